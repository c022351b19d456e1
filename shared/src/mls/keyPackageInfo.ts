/**
 * Reads the public facts of an encoded KeyPackage without any private state, so the gateway can check
 * that a published KeyPackage really belongs to the publisher (its leaf signature key must be the
 * identity key bound at registration) before handing it to others.
 */
import { decodeMlsMessage } from "ts-mls";

export interface KeyPackageInfo {
  cipherSuite: string;
  signatureKey: Uint8Array;
  /** BasicCredential identity (our clients put the UTF-8 username there). */
  credentialIdentity: Uint8Array | undefined;
}

/** Undefined when the bytes are not a single well-formed MLSMessage carrying a KeyPackage. */
export function inspectKeyPackage(bytes: Uint8Array): KeyPackageInfo | undefined {
  let decoded: ReturnType<typeof decodeMlsMessage>;
  try {
    decoded = decodeMlsMessage(bytes, 0);
  } catch {
    return undefined;
  }
  if (!decoded) return undefined;
  const [message, consumed] = decoded;
  if (consumed !== bytes.length || message.wireformat !== "mls_key_package") return undefined;
  const { leafNode, cipherSuite } = message.keyPackage;
  const credential = leafNode.credential;
  return {
    cipherSuite,
    signatureKey: leafNode.signaturePublicKey,
    credentialIdentity: credential.credentialType === "basic" ? credential.identity : undefined,
  };
}
