/**
 * Device certificates (docs/cryptography/devices.md): the account key signs each device's key, so
 * that anyone holding the account key (from the directory, checked by safety number) can tell the
 * account's devices from a key the gateway made up. The gateway checks certificates before storing
 * them, and every client checks them again: trust rests on the account key, not on the gateway.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { concatBytes, utf8 } from "../util/bytes.ts";

const CERTIFICATE_LABEL = "quicproquo/v1/device-cert";
export const DEVICE_KEY_BYTES = 32;
export const CERTIFICATE_BYTES = 64;

export interface DeviceCertificate {
  /** The device's Ed25519 public key (its MLS leaf signature key). */
  deviceKey: Uint8Array;
  issuedAtMs: number;
  /** The account key's Ed25519 signature over deviceCertificateMessage. */
  signature: Uint8Array;
}

function u64be(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value));
  return out;
}

/**
 * What the account key signs. The username is bound too, so a certificate made for one account is
 * worthless under another even if the two somehow shared an account key.
 */
export function deviceCertificateMessage(
  username: string,
  deviceKey: Uint8Array,
  issuedAtMs: number,
): Uint8Array {
  const name = utf8(username);
  if (name.length > 255) throw new RangeError("username too long for a device certificate");
  if (!Number.isSafeInteger(issuedAtMs) || issuedAtMs < 0) throw new RangeError("invalid issue time");
  return concatBytes(utf8(CERTIFICATE_LABEL), Uint8Array.of(name.length), name, deviceKey, u64be(issuedAtMs));
}

/** `sign` is the account key's Ed25519 signer (the suite's: ts-mls keeps keys in its own encoding). */
export async function signDeviceCertificate(
  sign: (message: Uint8Array) => Promise<Uint8Array>,
  username: string,
  deviceKey: Uint8Array,
  issuedAtMs: number,
): Promise<DeviceCertificate> {
  const signature = await sign(deviceCertificateMessage(username, deviceKey, issuedAtMs));
  return { deviceKey, issuedAtMs, signature };
}

/** True when the certificate is the account key's signature for this username and device key. */
export function verifyDeviceCertificate(
  accountKey: Uint8Array,
  username: string,
  certificate: DeviceCertificate,
): boolean {
  if (
    accountKey.length !== 32 ||
    certificate.deviceKey.length !== DEVICE_KEY_BYTES ||
    certificate.signature.length !== CERTIFICATE_BYTES
  ) {
    return false;
  }
  try {
    return ed25519.verify(
      certificate.signature,
      deviceCertificateMessage(username, certificate.deviceKey, certificate.issuedAtMs),
      accountKey,
    );
  } catch {
    return false;
  }
}
