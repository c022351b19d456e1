/**
 * Hybrid (X-Wing) public keys: each user publishes one, signed by their identity key, so others can
 * seal a hybrid envelope to them outside any group (a Welcome, a first contact). The gateway checks
 * the key's form and signature so that it never serves garbage, but fetchers verify the signature
 * themselves: trust in the key rests on the identity key, not on the gateway.
 */
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { isHybridPublicKey } from "@qpq/shared/crypto/hybrid";
import { verifyHybridKeyBinding } from "@qpq/shared/crypto/hybridBinding";
import type { Handler } from "./context.ts";
import { IDENTITY_KEY_BYTES, requireLength, requireSession } from "./guards.ts";

export const publishHybridKey: Handler<"publishHybridKey"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  if (!isHybridPublicKey(req.publicKey)) {
    throw new QpqError(ErrorCode.InvalidArgument, "not a well-formed X-Wing public key (1216 bytes)");
  }
  if (!verifyHybridKeyBinding(session.identityKey, req.publicKey, req.signature)) {
    throw new QpqError(ErrorCode.InvalidArgument, "the hybrid key is not signed by your identity key");
  }
  await services.store.setHybridKey(session.identityKey, {
    publicKey: req.publicKey,
    signature: req.signature,
  });
  return undefined;
};

export const fetchHybridKey: Handler<"fetchHybridKey"> = async (req, conn, services) => {
  requireSession(conn, services);
  const identityKey = requireLength("identityKey", req.identityKey, IDENTITY_KEY_BYTES);
  const key = await services.store.getHybridKey(identityKey);
  if (!key) throw new QpqError(ErrorCode.NoHybridKey, "the user has not published a hybrid key");
  return key;
};
