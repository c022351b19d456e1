/**
 * A device's MLS identity: the Ed25519 key pair of its leaf (generated on the device, never copied)
 * and the credential that names the account. An account's original device uses the account key as its
 * leaf key and a credential that is just the username; every later device carries the account key's
 * certificate for its own key (deviceCredential.ts, docs/cryptography/devices.md).
 */
import type { Credential, CiphersuiteImpl } from "ts-mls";
import { verifyDeviceCertificate } from "../crypto/deviceCertificate.ts";
import { bytesEqual, toHex, utf8 } from "../util/bytes.ts";
import { parseCredentialIdentity } from "./deviceCredential.ts";

export interface Identity {
  username: string;
  signaturePublicKey: Uint8Array;
  signaturePrivateKey: Uint8Array;
  /** The basic credential's identity bytes; absent: the username alone (an original device). */
  credentialIdentity?: Uint8Array;
}

export async function createIdentity(username: string, impl: CiphersuiteImpl): Promise<Identity> {
  const { publicKey, signKey } = await impl.signature.keygen();
  return { username, signaturePublicKey: publicKey, signaturePrivateKey: signKey };
}

export function credentialOf(identity: Identity): Credential {
  return { credentialType: "basic", identity: identity.credentialIdentity ?? utf8(identity.username) };
}

/** The username a credential claims, or undefined for credentials our clients never create. */
export function usernameOf(credential: Credential): string | undefined {
  if (credential.credentialType !== "basic") return undefined;
  return parseCredentialIdentity(credential.identity)?.username;
}

/** Verified results by credential and leaf key: a group's members are listed often, and never change. */
const verified = new Map<string, Uint8Array | null>();
const MAX_VERIFIED = 10_000;

/**
 * The account key a leaf speaks for: for a certified device, the account key whose certificate for
 * this leaf key verifies; for an original device, the leaf key itself. Undefined when the credential
 * is not ours or its certificate does not verify: such a leaf is shown as an impostor.
 */
export function accountKeyOf(credential: Credential, leafKey: Uint8Array): Uint8Array | undefined {
  if (credential.credentialType !== "basic") return undefined;
  const claims = parseCredentialIdentity(credential.identity);
  if (!claims) return undefined;
  if (!claims.device) return leafKey;
  const cacheKey = `${toHex(credential.identity)}:${toHex(leafKey)}`;
  const cached = verified.get(cacheKey);
  if (cached !== undefined) return cached ?? undefined;
  const { accountKey, issuedAtMs, signature } = claims.device;
  const ok =
    !bytesEqual(accountKey, leafKey) &&
    verifyDeviceCertificate(accountKey, claims.username, { deviceKey: leafKey, issuedAtMs, signature });
  if (verified.size >= MAX_VERIFIED) verified.clear();
  verified.set(cacheKey, ok ? accountKey : null);
  return ok ? accountKey : undefined;
}
