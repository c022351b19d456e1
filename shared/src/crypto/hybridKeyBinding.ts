/**
 * Binds a published hybrid public key to its owner's identity: the owner signs it with the Ed25519
 * identity key, and whoever fetches it checks that signature against the identity key it already
 * trusts (verified by safety number or trust on first use). So the gateway, which stores and serves
 * the key, cannot swap in its own.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { concatBytes, utf8 } from "../util/bytes.ts";

const BINDING_LABEL = "quicproquo/v1/hybrid-key";

export function hybridKeyBindingMessage(hybridPublicKey: Uint8Array): Uint8Array {
  return concatBytes(utf8(BINDING_LABEL), hybridPublicKey);
}

/** True when `signature` is the identity key's Ed25519 signature over the binding message. */
export function verifyHybridKeyBinding(
  identityKey: Uint8Array,
  hybridPublicKey: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (identityKey.length !== 32 || signature.length !== 64) return false;
  try {
    return ed25519.verify(signature, hybridKeyBindingMessage(hybridPublicKey), identityKey);
  } catch {
    return false;
  }
}
