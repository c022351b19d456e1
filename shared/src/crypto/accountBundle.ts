/**
 * The account bundle and the backup keys (docs/cryptography/devices.md). The bundle is the account
 * key pair sealed under a key from the OPAQUE export key, which is the same at every login with the
 * password and never reaches the gateway: a new device opens it after logging in, nothing else can.
 * The backup keys derive from the account's private key, so every device of the account has them
 * without storing anything more, and a new device has them as soon as it opened the bundle.
 */
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import { concatBytes, utf8 } from "../util/bytes.ts";
import { open, seal, sha256 } from "./atRest.ts";

const BUNDLE_INFO = "quicproquo/v1/account-bundle";
const BACKUP_SEAL_INFO = "quicproquo/v1/backup-seal";
const BACKUP_NAME_INFO = "quicproquo/v1/backup-name";
const BUNDLE_VERSION = 1;
const PUBLIC_KEY_BYTES = 32;

export interface AccountKeyPair {
  publicKey: Uint8Array;
  /** In the suite signer's encoding (ts-mls keeps WebCrypto's PKCS#8 where it can). */
  privateKey: Uint8Array;
}

function buf(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

async function hkdf(
  ikm: Uint8Array,
  username: string,
  info: string,
): Promise<{ base: CryptoKey; params: HkdfParams }> {
  const base = await crypto.subtle.importKey("raw", buf(ikm), "HKDF", false, ["deriveKey"]);
  const params: HkdfParams = {
    name: "HKDF",
    hash: "SHA-256",
    salt: buf(await sha256(username)),
    info: buf(utf8(info)),
  };
  return { base, params };
}

async function aesKey(ikm: Uint8Array, username: string, info: string): Promise<CryptoKey> {
  const { base, params } = await hkdf(ikm, username, info);
  return crypto.subtle.deriveKey(params, base, { name: "AES-GCM", length: 256 }, false, [
    "encrypt",
    "decrypt",
  ]);
}

export async function sealAccountBundle(
  exportKey: Uint8Array,
  username: string,
  account: AccountKeyPair,
): Promise<Uint8Array> {
  if (account.publicKey.length !== PUBLIC_KEY_BYTES) throw new RangeError("an account key is 32 bytes");
  const length = new Uint8Array(2);
  new DataView(length.buffer).setUint16(0, account.privateKey.length);
  const plaintext = concatBytes(Uint8Array.of(BUNDLE_VERSION), account.publicKey, length, account.privateKey);
  return seal(await aesKey(exportKey, username, BUNDLE_INFO), plaintext, `account-bundle\u0000${username}`);
}

/** Throws E030 (StorageUnreadable) when it does not open: another password, or tampering. */
export async function openAccountBundle(
  exportKey: Uint8Array,
  username: string,
  bundle: Uint8Array,
): Promise<AccountKeyPair> {
  const plaintext = await open(
    await aesKey(exportKey, username, BUNDLE_INFO),
    bundle,
    `account-bundle\u0000${username}`,
  );
  const view = new DataView(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
  const privateStart = 1 + PUBLIC_KEY_BYTES + 2;
  if (plaintext[0] !== BUNDLE_VERSION || plaintext.length < privateStart) {
    throw new QpqError(ErrorCode.StorageUnreadable, "the account bundle has an unknown format");
  }
  const privateLength = view.getUint16(1 + PUBLIC_KEY_BYTES);
  if (plaintext.length !== privateStart + privateLength) {
    throw new QpqError(ErrorCode.StorageUnreadable, "the account bundle is malformed");
  }
  return {
    publicKey: plaintext.slice(1, 1 + PUBLIC_KEY_BYTES),
    privateKey: plaintext.slice(privateStart),
  };
}

export interface BackupKeys {
  /** AES-256-GCM for entries. */
  seal: CryptoKey;
  /** HMAC-SHA-256 for entry keys: equal records give equal keys on every device, and nothing else. */
  name: CryptoKey;
}

export async function deriveBackupKeys(accountPrivateKey: Uint8Array, username: string): Promise<BackupKeys> {
  const named = await hkdf(accountPrivateKey, username, BACKUP_NAME_INFO);
  return {
    seal: await aesKey(accountPrivateKey, username, BACKUP_SEAL_INFO),
    name: await crypto.subtle.deriveKey(
      named.params,
      named.base,
      { name: "HMAC", hash: "SHA-256", length: 256 },
      false,
      ["sign"],
    ),
  };
}
