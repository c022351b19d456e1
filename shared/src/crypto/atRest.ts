/**
 * Encryption of a device's local data at rest, on WebCrypto only (browsers and Node 20 alike).
 *
 * Keys come from the OPAQUE export key, which only a correct password login yields, so a copy of the
 * storage (a browser profile, a backup) is useless without the password. The username salts the
 * derivation so two accounts never share keys even if their export keys collided.
 */
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import { concatBytes, fromBase64Url, toBase64Url, toHex, utf8, fromUtf8 } from "../util/bytes.ts";

const STORAGE_INFO = "quicproquo/v1/at-rest";
const BLIND_INFO = "quicproquo/v1/at-rest-blind-id";
// The CLI was first to keep a raw key between runs; its label stays so existing state files open.
const STATE_KEY_INFO = "quicproquo/v1/cli-state-key";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Thrown when sealed data does not decrypt: wrong key, tampering, or a record moved to another slot. */
export class AtRestDecryptError extends QpqError {
  constructor(detail = "at-rest decryption failed: wrong key, or the data was tampered with or moved") {
    super(ErrorCode.StorageUnreadable, detail);
    this.name = "AtRestDecryptError";
  }
}

/**
 * The DOM typings want ArrayBuffer-backed views; a Uint8Array over a SharedArrayBuffer (or typed as
 * ArrayBufferLike) is copied rather than cast so WebCrypto never sees shared memory.
 */
function buf(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

function asBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? utf8(data) : data;
}

export async function sha256(data: Uint8Array | string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buf(asBytes(data))));
}

function hkdfParams(username: string, info: string): Promise<HkdfParams> {
  return sha256(username).then((salt) => ({
    name: "HKDF",
    hash: "SHA-256",
    salt: buf(salt),
    info: buf(utf8(info)),
  }));
}

async function hkdfBase(exportKey: Uint8Array): Promise<CryptoKey> {
  if (exportKey.length < 32) {
    throw new QpqError(ErrorCode.InvalidArgument, "export key too short for at-rest key derivation");
  }
  return crypto.subtle.importKey("raw", buf(exportKey), "HKDF", false, ["deriveKey", "deriveBits"]);
}

/** AES-256-GCM key for sealing records; non-extractable so page scripts cannot exfiltrate it as bytes. */
export async function deriveStorageKey(exportKey: Uint8Array, username: string): Promise<CryptoKey> {
  return crypto.subtle.deriveKey(
    await hkdfParams(username, STORAGE_INFO),
    await hkdfBase(exportKey),
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/**
 * The raw bytes of a 256-bit AES-GCM key for a device's state, for a client that must keep the key
 * between runs without the password (the CLI keeps it in its session file while logged in, never
 * the export key itself). A separate HKDF output from deriveStorageKey's; import it with
 * importStateKey.
 */
export async function deriveStateKeyBytes(exportKey: Uint8Array, username: string): Promise<Uint8Array> {
  const bits = await crypto.subtle.deriveBits(
    await hkdfParams(username, STATE_KEY_INFO),
    await hkdfBase(exportKey),
    256,
  );
  return new Uint8Array(bits);
}

/** The AES-GCM key of deriveStateKeyBytes' output, non-extractable, for seal and open. */
export function importStateKey(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", buf(raw), { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
}

/**
 * HMAC-SHA-256 key for blindId. A separate HKDF output, so index keys reveal nothing about the
 * encryption key and the two uses cannot interfere.
 */
export async function deriveBlindingKey(exportKey: Uint8Array, username: string): Promise<CryptoKey> {
  return crypto.subtle.deriveKey(
    await hkdfParams(username, BLIND_INFO),
    await hkdfBase(exportKey),
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign"],
  );
}

/**
 * Deterministic pseudonym for an identifier (group id, message id) usable as a database key: equal
 * inputs give equal outputs, but without the key nothing about the input can be learned or checked.
 */
export async function blindId(blindingKey: CryptoKey, text: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.sign("HMAC", blindingKey, buf(utf8(text)))));
}

/** AES-GCM with a fresh random 96-bit IV, returned as iv || ciphertext || tag. */
export async function seal(
  key: CryptoKey,
  plaintext: Uint8Array,
  aad: Uint8Array | string,
): Promise<Uint8Array> {
  // Random IVs are safe here: far fewer than 2^32 records are ever sealed under one key.
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: buf(asBytes(aad)) },
    key,
    buf(plaintext),
  );
  return concatBytes(iv, new Uint8Array(ciphertext));
}

/** Reverses seal; the same aad must be given, which is what binds a record to its slot. */
export async function open(
  key: CryptoKey,
  sealed: Uint8Array,
  aad: Uint8Array | string,
): Promise<Uint8Array> {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new AtRestDecryptError("sealed data is truncated");
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: buf(sealed.subarray(0, IV_BYTES)), additionalData: buf(asBytes(aad)) },
      key,
      buf(sealed.subarray(IV_BYTES)),
    );
    return new Uint8Array(plaintext);
  } catch {
    // WebCrypto reports an opaque OperationError; callers need to know it means "not authentic".
    throw new AtRestDecryptError();
  }
}

/*
 * Record serialization: JSON where each Uint8Array becomes {"$b": base64url}. JSON keeps records
 * debuggable and schema-free; the reserved "$b" key is refused on input so decoding is unambiguous.
 */
const BYTES_TAG = "$b";

export function encodeRecord(value: unknown): Uint8Array {
  const json = JSON.stringify(
    value,
    function (this: Record<string, unknown>, key: string, replaced: unknown) {
      // Read the holder, not `replaced`: Node's Buffer has toJSON, which would already have mangled it.
      const raw = this[key];
      if (raw instanceof Uint8Array) return { [BYTES_TAG]: toBase64Url(raw) };
      if (typeof raw === "number" && !Number.isFinite(raw)) {
        throw new QpqError(
          ErrorCode.InvalidArgument,
          `encodeRecord: non-finite number at "${key}" would not survive JSON`,
        );
      }
      if (replaced !== null && typeof replaced === "object" && Object.hasOwn(replaced, BYTES_TAG)) {
        throw new QpqError(ErrorCode.InvalidArgument, `encodeRecord: the key "${BYTES_TAG}" is reserved`);
      }
      return replaced;
    },
  );
  if (json === undefined) {
    throw new QpqError(ErrorCode.InvalidArgument, "encodeRecord: value is not serializable");
  }
  return utf8(json);
}

export function decodeRecord<T>(bytes: Uint8Array): T {
  return JSON.parse(fromUtf8(bytes), (_key, value: unknown) => {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      const entries = Object.keys(value);
      const tagged = (value as Record<string, unknown>)[BYTES_TAG];
      if (entries.length === 1 && typeof tagged === "string") return fromBase64Url(tagged);
    }
    return value;
  }) as T;
}
