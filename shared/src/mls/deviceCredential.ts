/**
 * The MLS credential of a device (docs/cryptography/devices.md): a basic credential whose identity
 * carries the username, the account key and the account key's certificate for the leaf's signature
 * key (the device key). A credential that is just the username is an account's original device,
 * whose leaf key is the account key itself.
 */
import { concatBytes, fromUtf8, utf8 } from "../util/bytes.ts";

/** A zero byte first: no username (a-z0-9 first) can be mistaken for a device credential. */
const MAGIC = Uint8Array.of(0x00, 0x71, 0x64, 0x01);
const ACCOUNT_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

export interface CredentialClaims {
  username: string;
  /** Present for a certified device; absent for an original device (leaf key = account key). */
  device?: { accountKey: Uint8Array; issuedAtMs: number; signature: Uint8Array };
}

export function encodeDeviceCredentialIdentity(
  username: string,
  accountKey: Uint8Array,
  issuedAtMs: number,
  signature: Uint8Array,
): Uint8Array {
  const name = utf8(username);
  if (name.length > 255 || accountKey.length !== ACCOUNT_KEY_BYTES || signature.length !== SIGNATURE_BYTES) {
    throw new RangeError("invalid device credential fields");
  }
  const time = new Uint8Array(8);
  new DataView(time.buffer).setBigUint64(0, BigInt(issuedAtMs));
  return concatBytes(MAGIC, Uint8Array.of(name.length), name, accountKey, time, signature);
}

/** What a basic credential's identity claims, or undefined when it is neither form. */
export function parseCredentialIdentity(identity: Uint8Array): CredentialClaims | undefined {
  const magic = MAGIC.every((b, i) => identity[i] === b);
  try {
    if (!magic) return { username: fromUtf8(identity) };
    const nameLength = identity[MAGIC.length];
    if (nameLength === undefined) return undefined;
    const nameStart = MAGIC.length + 1;
    const keyStart = nameStart + nameLength;
    const timeStart = keyStart + ACCOUNT_KEY_BYTES;
    const sigStart = timeStart + 8;
    if (identity.length !== sigStart + SIGNATURE_BYTES) return undefined;
    const issued = new DataView(identity.buffer, identity.byteOffset + timeStart, 8).getBigUint64(0);
    if (issued > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
    return {
      username: fromUtf8(identity.subarray(nameStart, keyStart)),
      device: {
        accountKey: identity.slice(keyStart, timeStart),
        issuedAtMs: Number(issued),
        signature: identity.slice(sigStart),
      },
    };
  } catch {
    return undefined;
  }
}
