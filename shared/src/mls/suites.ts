/**
 * MLS cipher suites. Post-quantum by default: X-Wing (X25519 + ML-KEM-768) in the HPKE layer, so
 * group secrets resist "harvest now, decrypt later". Signatures stay Ed25519 in every suite we use,
 * so one identity key serves all of them.
 */
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import { extract, expand } from "@noble/hashes/hkdf.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import {
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  nobleCryptoProvider,
  type CiphersuiteImpl,
  type CiphersuiteName,
  type CryptoProvider,
  type Kdf,
  type KdfAlgorithm,
} from "ts-mls";

export const DEFAULT_SUITE: CiphersuiteName = "MLS_256_XWING_AES256GCM_SHA512_Ed25519";
export const CLASSICAL_SUITE: CiphersuiteName = "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519";

const kdfHashes = { "HKDF-SHA256": sha256, "HKDF-SHA384": sha384, "HKDF-SHA512": sha512 } as const;

/**
 * RFC 5869 HKDF computed synchronously in JavaScript, with the same output and the same salt rule as
 * the @hpke/core HKDF it replaces.
 */
function nobleKdf(alg: KdfAlgorithm): Kdf {
  const hash = kdfHashes[alg];
  return {
    size: hash.outputLen,
    extract(salt, ikm) {
      // MLS salts are a previous secret (HashLen bytes) or empty. An empty salt goes on as an empty HMAC
      // key, which HMAC pads to the same zero block as RFC 5869's default of HashLen zeros; any other
      // length is rejected, as @hpke/core does.
      if (salt.length !== 0 && salt.length !== hash.outputLen) {
        return Promise.reject(
          new QpqError(ErrorCode.InvalidArgument, `HKDF salt must be empty or ${hash.outputLen} bytes`),
        );
      }
      return Promise.resolve(extract(hash, ikm, salt));
    },
    expand: (prk, info, length) => Promise.resolve(expand(hash, prk, info, length)),
  };
}

/**
 * The crypto under ts-mls. MLS spends most of its time in many small symmetric steps (a key schedule,
 * a secret-tree ratchet, tree hashes, HKDF per path node and per message). Through WebCrypto each of
 * them imports a key object and waits on the thread pool, which costs far more than the arithmetic.
 * ts-mls's noble provider already does hashes, HMAC and the message AEAD in plain JavaScript; it
 * still takes HKDF from @hpke/core (WebCrypto), so that is replaced here as well. HPKE (KEMs and
 * their AEAD) and Ed25519 stay as ts-mls builds them, so identities keep their stored key format.
 * Hashes, HMAC, HKDF and AES-GCM give the same bytes as through WebCrypto, so members on either
 * provider share groups (suites.test.ts). All of it is plain JavaScript: the browser runs the same.
 */
export const mlsCryptoProvider: CryptoProvider = {
  async getCiphersuiteImpl(cs) {
    const impl = await nobleCryptoProvider.getCiphersuiteImpl(cs);
    return { ...impl, kdf: nobleKdf(cs.hpke.kdf) };
  },
};

const impls = new Map<CiphersuiteName, Promise<CiphersuiteImpl>>();

/** Suite implementations are built once and shared: building one loads and initializes its KEM. */
export function suiteImpl(name: CiphersuiteName = DEFAULT_SUITE): Promise<CiphersuiteImpl> {
  let impl = impls.get(name);
  if (!impl) {
    impl = getCiphersuiteImpl(getCiphersuiteFromName(name), mlsCryptoProvider);
    impls.set(name, impl);
  }
  return impl;
}
