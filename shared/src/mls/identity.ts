/**
 * A user's identity: the Ed25519 key pair of their MLS BasicCredential, generated on the device.
 * The public key is bound to the username at registration; the private key never leaves the device
 * except inside the user's encrypted state.
 */
import type { Credential, CiphersuiteImpl } from "ts-mls";
import { fromUtf8, utf8 } from "../util/bytes.ts";

export interface Identity {
  username: string;
  signaturePublicKey: Uint8Array;
  signaturePrivateKey: Uint8Array;
}

export async function createIdentity(username: string, impl: CiphersuiteImpl): Promise<Identity> {
  const { publicKey, signKey } = await impl.signature.keygen();
  return { username, signaturePublicKey: publicKey, signaturePrivateKey: signKey };
}

export function credentialFor(username: string): Credential {
  return { credentialType: "basic", identity: utf8(username) };
}

/** The username a credential claims, or undefined for credentials our clients never create. */
export function usernameOf(credential: Credential): string | undefined {
  if (credential.credentialType !== "basic") return undefined;
  try {
    return fromUtf8(credential.identity);
  } catch {
    return undefined;
  }
}
