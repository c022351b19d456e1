/**
 * MLS cipher suites. Post-quantum by default: X-Wing (X25519 + ML-KEM-768) in the HPKE layer, so
 * group secrets resist "harvest now, decrypt later". Signatures stay Ed25519 in every suite we use,
 * so one identity key serves all of them.
 */
import {
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  type CiphersuiteImpl,
  type CiphersuiteName,
} from "ts-mls";

export const DEFAULT_SUITE: CiphersuiteName = "MLS_256_XWING_AES256GCM_SHA512_Ed25519";
export const CLASSICAL_SUITE: CiphersuiteName = "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519";

const impls = new Map<CiphersuiteName, Promise<CiphersuiteImpl>>();

/** Suite implementations are built once and shared: building one loads and initializes its KEM. */
export function suiteImpl(name: CiphersuiteName = DEFAULT_SUITE): Promise<CiphersuiteImpl> {
  let impl = impls.get(name);
  if (!impl) {
    impl = getCiphersuiteImpl(getCiphersuiteFromName(name));
    impls.set(name, impl);
  }
  return impl;
}
