/**
 * The account's hybrid (X-Wing) key: derived from the identity key on the device, published at every
 * login with an identity signature, and fetched for others with that signature checked, so a message
 * can be sealed to a user who shares no group with us yet (see crypto/hybridEnvelope.ts).
 */
import {
  hybridKeyPairFromIdentity,
  isHybridPublicKey,
  openHybrid,
  sealHybrid,
  type HybridKeyPair,
} from "../crypto/hybridEnvelope.ts";
import { hybridKeyBindingMessage, verifyHybridKeyBinding } from "../crypto/hybridKeyBinding.ts";
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import { openInvitation, sealInvitation, type Invitation } from "./invitations.ts";
import type { ClientSession } from "./session.ts";

export class HybridKeys {
  private cached: HybridKeyPair | undefined;

  constructor(private readonly session: ClientSession) {}

  get keyPair(): HybridKeyPair {
    // From the account key, so every device of the account holds the same hybrid key.
    this.cached ??= hybridKeyPairFromIdentity(this.session.account.privateKey);
    return this.cached;
  }

  /** Publishes (or re-publishes; the gateway keeps the latest) this account's signed hybrid key. */
  async publish(): Promise<void> {
    const { publicKey } = this.keyPair;
    const signature = await this.session.impl.signature.sign(
      this.session.account.privateKey,
      hybridKeyBindingMessage(publicKey),
    );
    await this.session.gw.publishHybridKey(publicKey, signature);
  }

  /**
   * A user's hybrid public key, accepted only when signed by the identity key given (the caller's
   * trusted key for that user). E027 when none is published; E007 when the signature is wrong.
   */
  async publicKeyOf(identityKey: Uint8Array): Promise<Uint8Array> {
    const { publicKey, signature } = await this.session.gw.fetchHybridKey(identityKey);
    if (!isHybridPublicKey(publicKey) || !verifyHybridKeyBinding(identityKey, publicKey, signature)) {
      throw new QpqError(ErrorCode.InvalidArgument, "the served hybrid key is not signed by that identity");
    }
    return publicKey;
  }

  async sealTo(identityKey: Uint8Array, plaintext: Uint8Array, context: string): Promise<Uint8Array> {
    return sealHybrid(await this.publicKeyOf(identityKey), plaintext, context);
  }

  open(envelope: Uint8Array, context: string): Uint8Array {
    return openHybrid(this.keyPair, envelope, context);
  }

  /**
   * Seals a Welcome to a joiner as an invitation from this account (invitations.ts). The joiner's
   * hybrid key must come from publicKeyOf, i.e. already checked against the joiner's identity key.
   */
  invitation(
    joinerIdentityKey: Uint8Array,
    joinerHybridKey: Uint8Array,
    channelId: Uint8Array,
    welcome: Uint8Array,
  ): Promise<Uint8Array> {
    const { account, identity, impl } = this.session;
    return sealInvitation({
      inviterKey: account.publicKey,
      sign: (message) => impl.signature.sign(account.privateKey, message),
      inviterUsername: identity.username,
      channelId,
      welcome,
      joinerIdentityKey,
      joinerHybridKey,
    });
  }

  /** Opens an invitation sealed to this account; throws InvitationError when it is not a valid one. */
  openInvitation(payload: Uint8Array): Invitation {
    return openInvitation(this.keyPair, this.session.account.publicKey, payload);
  }
}
