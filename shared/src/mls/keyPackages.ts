/**
 * KeyPackages: what lets others add a user to a group while the user is offline. The public half is
 * published to the gateway; the private half stays on the device, found again through the
 * KeyPackageRef that a Welcome names.
 */
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import {
  decodeMlsMessage,
  defaultCapabilities,
  defaultLifetime,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  type CiphersuiteImpl,
  type KeyPackage,
  type PrivateKeyPackage,
} from "ts-mls";
import { makeKeyPackageRef } from "ts-mls/keyPackage.js";
import { toHex } from "../util/bytes.ts";
import { credentialOf, type Identity } from "./identity.ts";

export interface OwnKeyPackage {
  /** Hex KeyPackageRef (RFC 9420 section 5.2): how a Welcome names the KeyPackage it used. */
  ref: string;
  /** Encoded MLSMessage as published. */
  encoded: Uint8Array;
  publicPackage: KeyPackage;
  privatePackage: PrivateKeyPackage;
  lastResort: boolean;
}

export async function generateKeyPackage(
  identity: Identity,
  impl: CiphersuiteImpl,
  lastResort = false,
): Promise<OwnKeyPackage> {
  const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
    credentialOf(identity),
    defaultCapabilities(),
    defaultLifetime,
    [],
    { signKey: identity.signaturePrivateKey, publicKey: identity.signaturePublicKey },
    impl,
  );
  const encoded = encodeMlsMessage({
    keyPackage: publicPackage,
    wireformat: "mls_key_package",
    version: "mls10",
  });
  const ref = toHex(await makeKeyPackageRef(publicPackage, impl.hash));
  return { ref, encoded, publicPackage, privatePackage, lastResort };
}

/** Decodes a KeyPackage fetched from the gateway; throws on anything else. */
export function decodeKeyPackage(bytes: Uint8Array): KeyPackage {
  const decoded = decodeMlsMessage(bytes, 0);
  if (!decoded || decoded[0].wireformat !== "mls_key_package")
    throw new QpqError(ErrorCode.InvalidArgument, "not a KeyPackage");
  return decoded[0].keyPackage;
}
