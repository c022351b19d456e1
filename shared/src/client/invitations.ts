/**
 * Invitations: how a Welcome reaches a joiner. The Welcome (plus the group channel and the inviter's
 * name) is signed with the inviter's Ed25519 identity key and sealed to the joiner's published hybrid
 * (X-Wing) key, so the gateway no longer sees the Welcome's clear-text metadata (cipher suite,
 * KeyPackage refs, the encrypted GroupInfo's size) and cannot swap any part: the signature covers the
 * contents, the joiner's identity key, the joiner's hybrid key and a purpose label. The joiner learns
 * who invited it, and joins only when that inviter is a member of the group the Welcome leads to.
 *
 * Wire format of the queued payload: INVITATION_TYPE (one byte) || hybrid envelope (context
 * "invitation"). Every MLS message starts with its protocol version 0x0001, so the first byte tells an
 * invitation (0x51) from a raw MLS message (0x00) without parsing further.
 *
 * Sealed plaintext (version 1):
 *   0x01 || inviter identity key (32) || u16 username length || username (UTF-8)
 *        || u16 channel id length || channel id || u32 Welcome length || Welcome || signature (64)
 * The signature is over SIGNATURE_LABEL || 0x00 || joiner identity key (32) || joiner hybrid key
 * || every byte of the plaintext before the signature.
 */
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import { ed25519 } from "@noble/curves/ed25519.js";
import {
  HYBRID_ENVELOPE_VERSION,
  openHybrid,
  sealHybrid,
  type HybridKeyPair,
} from "../crypto/hybridEnvelope.ts";
import { concatBytes, utf8 } from "../util/bytes.ts";

/** First byte of an invitation payload; an MLS message starts with 0x00. */
export const INVITATION_TYPE = 0x51;
const INVITATION_VERSION = 1;
const ENVELOPE_CONTEXT = "invitation";
const SIGNATURE_LABEL = "quicproquo/v1/invitation";
const KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;
const MAX_USERNAME_BYTES = 256;
/** Type byte, envelope version, X-Wing ciphertext (1120) and AEAD tag (16): anything shorter is not one. */
export const MIN_INVITATION_BYTES = 1 + 1 + 1120 + 16;

export class InvitationError extends QpqError {
  override readonly name = "InvitationError";

  constructor(detail: string) {
    super(ErrorCode.InvitationInvalid, detail);
  }
}

export interface Invitation {
  /** The inviter's identity key; it signed the invitation. */
  inviterKey: Uint8Array;
  inviterUsername: string;
  /** The group channel the Welcome belongs to (empty for a conversation from before channels). */
  channelId: Uint8Array;
  /** The MLS Welcome, as ts-mls encodes it. */
  welcome: Uint8Array;
}

export interface SealInvitationInput extends Invitation {
  /**
   * Signs with the inviter's identity key (the suite's Ed25519 signer: ts-mls keeps the private key
   * in its own encoding, so signing stays with it; verifying needs only the raw public key).
   */
  sign: (message: Uint8Array) => Promise<Uint8Array>;
  joinerIdentityKey: Uint8Array;
  /** The joiner's hybrid public key, already verified against joinerIdentityKey (HybridKeys.publicKeyOf). */
  joinerHybridKey: Uint8Array;
}

/**
 * True when the payload is framed as an invitation (type byte and minimum length); says nothing about
 * whether it opens. The gateway uses this to let an invitation through a group channel.
 */
export function isInvitationPayload(payload: Uint8Array): boolean {
  return (
    payload.length >= MIN_INVITATION_BYTES &&
    payload[0] === INVITATION_TYPE &&
    payload[1] === HYBRID_ENVELOPE_VERSION
  );
}

export async function sealInvitation(input: SealInvitationInput): Promise<Uint8Array> {
  const username = utf8(input.inviterUsername);
  if (input.inviterKey.length !== KEY_BYTES || input.joinerIdentityKey.length !== KEY_BYTES) {
    throw new InvitationError("identity keys are 32 bytes");
  }
  if (username.length > MAX_USERNAME_BYTES || input.channelId.length > 0xffff) {
    throw new InvitationError("username or channel id too long");
  }
  const body = concatBytes(
    new Uint8Array([INVITATION_VERSION]),
    input.inviterKey,
    u16(username.length),
    username,
    u16(input.channelId.length),
    input.channelId,
    u32(input.welcome.length),
    input.welcome,
  );
  const signature = await input.sign(signedMessage(input.joinerIdentityKey, input.joinerHybridKey, body));
  if (signature.length !== SIGNATURE_BYTES) throw new InvitationError("not an Ed25519 signature");
  const envelope = sealHybrid(input.joinerHybridKey, concatBytes(body, signature), ENVELOPE_CONTEXT);
  return concatBytes(new Uint8Array([INVITATION_TYPE]), envelope);
}

/**
 * Opens an invitation sealed to this account and checks the inviter's signature over it, bound to our
 * identity key and hybrid key. Throws InvitationError for anything that is not a valid invitation to us.
 */
export function openInvitation(
  keyPair: HybridKeyPair,
  joinerIdentityKey: Uint8Array,
  payload: Uint8Array,
): Invitation {
  if (!isInvitationPayload(payload)) throw new InvitationError("not an invitation");
  let plain: Uint8Array;
  try {
    plain = openHybrid(keyPair, payload.subarray(1), ENVELOPE_CONTEXT);
  } catch {
    throw new InvitationError("the invitation does not open: not sealed to us, or tampered with");
  }
  const reader = new Reader(plain);
  if (reader.bytes(1)[0] !== INVITATION_VERSION) throw new InvitationError("unknown invitation version");
  const inviterKey = reader.bytes(KEY_BYTES);
  const usernameBytes = reader.bytes(reader.u16());
  const channelId = reader.bytes(reader.u16());
  const welcome = reader.bytes(reader.u32());
  const bodyLength = reader.offset;
  const signature = reader.bytes(SIGNATURE_BYTES);
  if (reader.offset !== plain.length) throw new InvitationError("trailing bytes after the invitation");
  const message = signedMessage(joinerIdentityKey, keyPair.publicKey, plain.subarray(0, bodyLength));
  let valid = false;
  try {
    valid = ed25519.verify(signature, message, inviterKey);
  } catch {
    valid = false;
  }
  if (!valid) throw new InvitationError("the invitation is not signed by the inviter it names");
  let inviterUsername: string;
  try {
    inviterUsername = new TextDecoder("utf-8", { fatal: true }).decode(usernameBytes);
  } catch {
    throw new InvitationError("the inviter's name is not UTF-8");
  }
  return { inviterKey, inviterUsername, channelId, welcome };
}

function signedMessage(joinerKey: Uint8Array, joinerHybridKey: Uint8Array, body: Uint8Array): Uint8Array {
  return concatBytes(utf8(SIGNATURE_LABEL), new Uint8Array([0]), joinerKey, joinerHybridKey, body);
}

function u16(n: number): Uint8Array {
  return new Uint8Array([n >> 8, n & 0xff]);
}

function u32(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

class Reader {
  offset = 0;
  constructor(private readonly data: Uint8Array) {}

  bytes(n: number): Uint8Array {
    if (this.offset + n > this.data.length) throw new InvitationError("truncated invitation");
    const out = this.data.slice(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  u16(): number {
    const b = this.bytes(2);
    return (b[0]! << 8) | b[1]!;
  }

  u32(): number {
    const b = this.bytes(4);
    return ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
  }
}
