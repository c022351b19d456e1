/**
 * Hybrid KEM envelope: seals a payload to a user's published X-Wing public key (X25519 + ML-KEM-768,
 * draft-connolly-cfrg-xwing-kem), for what must reach a user outside any MLS group: a Welcome or a
 * first contact. Breaking it needs breaking both X25519 and ML-KEM-768.
 *
 * Format (version 1): 0x01 || X-Wing ciphertext (1120 bytes) || ChaCha20-Poly1305(payload).
 * The AEAD key comes from HKDF-SHA256 over the X-Wing shared secret, salted with the hash of the
 * recipient's full public key (X-Wing's secret binds only the X25519 half of it) and labelled with
 * the caller's context, so an envelope made for one purpose never opens as another. Each envelope
 * has a fresh KEM secret and so a fresh key, which is why a fixed nonce is safe.
 */
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { XWing } from "@noble/post-quantum/hybrid.js";
import { concatBytes, utf8 } from "../util/bytes.ts";

export const HYBRID_ENVELOPE_VERSION = 1;
export const HYBRID_PUBLIC_KEY_BYTES = 1216;
export const HYBRID_SECRET_KEY_BYTES = 32;
const KEM_CIPHERTEXT_BYTES = 1120;
const TAG_BYTES = 16;
const ML_KEM_Q = 3329;
/** k = 3 polynomials of 256 twelve-bit coefficients; the 32-byte seed rho follows. */
const ML_KEM_VECTOR_BYTES = 1152;
const KEY_LABEL = "quicproquo/v1/hybrid-envelope";
const SEED_LABEL = "quicproquo/v1/hybrid-kem-seed";
const NONCE = new Uint8Array(12);

export class HybridEnvelopeError extends QpqError {
  override readonly name = "HybridEnvelopeError";

  constructor(detail: string) {
    super(ErrorCode.SealedEnvelopeInvalid, detail);
  }
}

export interface HybridKeyPair {
  publicKey: Uint8Array;
  /** The 32-byte X-Wing seed: the whole private key. */
  secretKey: Uint8Array;
}

/** A key pair from a 32-byte seed (random when omitted). */
export function hybridKeyPair(seed?: Uint8Array): HybridKeyPair {
  const { publicKey, secretKey } = XWing.keygen(seed?.slice());
  return { publicKey, secretKey };
}

/**
 * The account's hybrid key pair, derived from its identity private key so the device stores nothing
 * new and every device of the account derives the same key. The label keeps this use of the secret
 * apart from signing.
 */
export function hybridKeyPairFromIdentity(identityPrivateKey: Uint8Array): HybridKeyPair {
  return hybridKeyPair(hkdf(sha256, identityPrivateKey, undefined, utf8(SEED_LABEL), 32));
}

/**
 * Length plus the FIPS 203 modulus check on the ML-KEM-768 half (pk = ML-KEM ek || X25519 key):
 * every 12-bit coefficient of the encoded vector must be below q = 3329.
 */
export function isHybridPublicKey(bytes: Uint8Array): boolean {
  if (bytes.length !== HYBRID_PUBLIC_KEY_BYTES) return false;
  for (let i = 0; i < ML_KEM_VECTOR_BYTES; i += 3) {
    const b0 = bytes[i]!;
    const b1 = bytes[i + 1]!;
    const b2 = bytes[i + 2]!;
    if ((b0 | ((b1 & 0x0f) << 8)) >= ML_KEM_Q || ((b1 >> 4) | (b2 << 4)) >= ML_KEM_Q) return false;
  }
  return true;
}

function aeadKey(sharedSecret: Uint8Array, recipient: Uint8Array, context: string): Uint8Array {
  return hkdf(sha256, sharedSecret, sha256(recipient), utf8(`${KEY_LABEL}\u0000${context}`), 32);
}

function header(kemCiphertext: Uint8Array): Uint8Array {
  return concatBytes(new Uint8Array([HYBRID_ENVELOPE_VERSION]), kemCiphertext);
}

/** Seals plaintext to a recipient's X-Wing public key; `context` names the purpose (e.g. "welcome"). */
export function sealHybrid(
  recipientPublicKey: Uint8Array,
  plaintext: Uint8Array,
  context: string,
): Uint8Array {
  if (!isHybridPublicKey(recipientPublicKey)) {
    throw new HybridEnvelopeError("not a well-formed X-Wing public key");
  }
  // Copies: @noble/post-quantum 0.5.2 writes into the key arrays it is given.
  const { cipherText, sharedSecret } = XWing.encapsulate(recipientPublicKey.slice());
  const key = aeadKey(sharedSecret, recipientPublicKey, context);
  const head = header(cipherText);
  const sealed = chacha20poly1305(key, NONCE, concatBytes(head, utf8(context))).encrypt(plaintext);
  key.fill(0);
  sharedSecret.fill(0);
  return concatBytes(head, sealed);
}

/** Opens an envelope; throws HybridEnvelopeError for a wrong key, another context, or tampering. */
export function openHybrid(keyPair: HybridKeyPair, envelope: Uint8Array, context: string): Uint8Array {
  const headBytes = 1 + KEM_CIPHERTEXT_BYTES;
  if (envelope.length < headBytes + TAG_BYTES) throw new HybridEnvelopeError("envelope too short");
  if (envelope[0] !== HYBRID_ENVELOPE_VERSION) {
    throw new HybridEnvelopeError(`unknown envelope version ${envelope[0]}`);
  }
  const head = envelope.subarray(0, headBytes);
  const sharedSecret = XWing.decapsulate(head.slice(1), keyPair.secretKey.slice());
  const key = aeadKey(sharedSecret, keyPair.publicKey, context);
  try {
    return chacha20poly1305(key, NONCE, concatBytes(head, utf8(context))).decrypt(
      envelope.subarray(headBytes),
    );
  } catch {
    throw new HybridEnvelopeError("the envelope does not open: wrong key or context, or tampered with");
  } finally {
    key.fill(0);
    sharedSecret.fill(0);
  }
}
