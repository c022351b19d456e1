/**
 * KeyPackage directory (RFC 9750 section 5.1): each single-use KeyPackage is handed out once, and a
 * last-resort KeyPackage is served when the stock runs out, so a user can always be added to a group.
 */
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { bytesEqual, fromUtf8 } from "@qpq/shared/bytes";
import { inspectKeyPackage } from "@qpq/shared/mls";
import type { AuthenticatedSession, Handler } from "./context.ts";
import { IDENTITY_KEY_BYTES, requireLength, requireSession } from "./guards.ts";
import { addressKey, sessionKey } from "./throttle.ts";

const MAX_KEY_PACKAGE_BYTES = 16 * 1024;

/**
 * Only the publisher's own KeyPackages are accepted: the leaf must be signed with the identity key
 * bound at registration and name the user. Signature validity is checked by the joining client's MLS
 * stack (RFC 9420 section 10.1); the gateway checks ownership so one user cannot stock another's.
 */
function checkOwnKeyPackage(bytes: Uint8Array, session: AuthenticatedSession): void {
  if (bytes.length === 0 || bytes.length > MAX_KEY_PACKAGE_BYTES) {
    throw new QpqError(ErrorCode.InvalidArgument, `KeyPackage must be 1-${MAX_KEY_PACKAGE_BYTES} bytes`);
  }
  const info = inspectKeyPackage(bytes);
  if (!info) throw new QpqError(ErrorCode.InvalidArgument, "not an MLS KeyPackage");
  if (!bytesEqual(info.signatureKey, session.identityKey)) {
    throw new QpqError(ErrorCode.InvalidArgument, "KeyPackage is not signed by your identity key");
  }
  let named: string | undefined;
  try {
    named = info.credentialIdentity && fromUtf8(info.credentialIdentity);
  } catch {
    named = undefined;
  }
  if (named !== session.username) {
    throw new QpqError(ErrorCode.InvalidArgument, "KeyPackage credential does not name you");
  }
}

export const publishKeyPackages: Handler<"publishKeyPackages"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  const { maxKeyPackagesPerPublish, maxKeyPackagesStored, keyPackagePublishPerSession } =
    services.config.limits;
  services.throttle.take(
    [{ key: `kp-publish:${sessionKey(session.tokenHash)}`, rule: keyPackagePublishPerSession }],
    "KeyPackage upload",
  );
  if (req.keyPackages.length > maxKeyPackagesPerPublish) {
    throw new QpqError(ErrorCode.InvalidArgument, `at most ${maxKeyPackagesPerPublish} KeyPackages per call`);
  }
  for (const kp of req.keyPackages) checkOwnKeyPackage(kp, session);
  if (req.lastResort.length > 0) checkOwnKeyPackage(req.lastResort, session);

  const stored = await services.store.countKeyPackages(session.identityKey);
  if (stored + req.keyPackages.length > maxKeyPackagesStored) {
    throw new QpqError(
      ErrorCode.InvalidArgument,
      `you have ${stored} KeyPackages stored; at most ${maxKeyPackagesStored} are kept`,
    );
  }
  const available = await services.store.addKeyPackages(
    session.identityKey,
    req.keyPackages,
    req.lastResort.length > 0 ? req.lastResort : undefined,
  );
  return { available };
};

export const fetchKeyPackage: Handler<"fetchKeyPackage"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  const { keyPackageFetchPerSession, keyPackageFetchPerAddress } = services.config.limits;
  services.throttle.take(
    [
      { key: `kp-fetch:${sessionKey(session.tokenHash)}`, rule: keyPackageFetchPerSession },
      { key: `kp-fetch:${addressKey(conn.remoteAddress)}`, rule: keyPackageFetchPerAddress },
    ],
    "KeyPackage fetch",
  );
  const identityKey = requireLength("identityKey", req.identityKey, IDENTITY_KEY_BYTES);
  const claimed = await services.store.claimKeyPackage(identityKey);
  if (!claimed) throw new QpqError(ErrorCode.NoKeyPackage, "the user has no KeyPackage available");
  return claimed;
};
