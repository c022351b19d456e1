/**
 * KeyPackage directory (RFC 9750 section 5.1): each single-use KeyPackage is handed out once, and a
 * last-resort KeyPackage is served when the stock runs out, so a user can always be added to a group.
 */
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { bytesEqual } from "@qpq/shared/bytes";
import { verifyDeviceCertificate } from "@qpq/shared/crypto/devices";
import { inspectKeyPackage, parseCredentialIdentity } from "@qpq/shared/mls";
import type { AuthenticatedSession, Handler, Services } from "./context.ts";
import { requireDevice } from "./devices.ts";
import { announceDeviceChange } from "./deviceNotices.ts";
import { IDENTITY_KEY_BYTES, requireLength, requireSession } from "./guards.ts";
import { addressKey, sessionKey } from "./throttle.ts";

const MAX_KEY_PACKAGE_BYTES = 16 * 1024;

/**
 * Only the publishing device's own KeyPackages are accepted: the leaf must be signed with the
 * session's device key and its credential must name the user (and, for a certified device, carry the
 * account key's certificate for that device key). Signature validity is checked by the joining
 * client's MLS stack (RFC 9420 section 10.1); the gateway checks ownership so one user or device
 * cannot stock another's.
 */
function checkOwnKeyPackage(bytes: Uint8Array, session: AuthenticatedSession): void {
  if (bytes.length === 0 || bytes.length > MAX_KEY_PACKAGE_BYTES) {
    throw new QpqError(ErrorCode.InvalidArgument, `KeyPackage must be 1-${MAX_KEY_PACKAGE_BYTES} bytes`);
  }
  const info = inspectKeyPackage(bytes);
  if (!info) throw new QpqError(ErrorCode.InvalidArgument, "not an MLS KeyPackage");
  if (!bytesEqual(info.signatureKey, session.deviceKey)) {
    throw new QpqError(ErrorCode.InvalidArgument, "KeyPackage is not signed by this session's device key");
  }
  const claims = info.credentialIdentity && parseCredentialIdentity(info.credentialIdentity);
  if (!claims || claims.username !== session.username) {
    throw new QpqError(ErrorCode.InvalidArgument, "KeyPackage credential does not name you");
  }
  const certified =
    claims.device === undefined
      ? bytesEqual(session.deviceKey, session.identityKey)
      : bytesEqual(claims.device.accountKey, session.identityKey) &&
        verifyDeviceCertificate(session.identityKey, session.username, {
          deviceKey: session.deviceKey,
          issuedAtMs: claims.device.issuedAtMs,
          signature: claims.device.signature,
        });
  if (!certified) {
    throw new QpqError(
      ErrorCode.DeviceCertificateInvalid,
      "KeyPackage credential is not certified for this device",
    );
  }
}

export const publishKeyPackages: Handler<"publishKeyPackages"> = async (req, conn, services) => {
  const session = await requireDevice(conn, services);
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

  const stored = await services.store.countKeyPackages(session.deviceKey);
  if (stored + req.keyPackages.length > maxKeyPackagesStored) {
    throw new QpqError(
      ErrorCode.InvalidArgument,
      `you have ${stored} KeyPackages stored; at most ${maxKeyPackagesStored} are kept`,
    );
  }
  const available = await services.store.addKeyPackages(
    session.deviceKey,
    req.keyPackages,
    req.lastResort.length > 0 ? req.lastResort : undefined,
  );
  // A new device becomes addable with its first stock: now members' devices can add it to the
  // account's groups (a stock that ran dry and is refilled says the same again, harmlessly).
  if (stored === 0 && req.keyPackages.length > 0 && !bytesEqual(session.deviceKey, session.identityKey)) {
    await announceDeviceChange(services, session.identityKey, session.deviceKey);
  }
  return { available };
};

function throttleFetch(session: AuthenticatedSession, remoteAddress: string, services: Services): void {
  const { keyPackageFetchPerSession, keyPackageFetchPerAddress } = services.config.limits;
  services.throttle.take(
    [
      { key: `kp-fetch:${sessionKey(session.tokenHash)}`, rule: keyPackageFetchPerSession },
      { key: `kp-fetch:${addressKey(remoteAddress)}`, rule: keyPackageFetchPerAddress },
    ],
    "KeyPackage fetch",
  );
}

/** One KeyPackage of the account's original device (clients from before devices). */
export const fetchKeyPackage: Handler<"fetchKeyPackage"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  throttleFetch(session, conn.remoteAddress, services);
  const identityKey = requireLength("identityKey", req.identityKey, IDENTITY_KEY_BYTES);
  const claimed = await services.store.claimKeyPackage(identityKey);
  if (!claimed) throw new QpqError(ErrorCode.NoKeyPackage, "the user has no KeyPackage available");
  return claimed;
};

/** One KeyPackage per device of the account, each with its certificate: adding a person adds all their devices. */
export const fetchKeyPackages: Handler<"fetchKeyPackages"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  throttleFetch(session, conn.remoteAddress, services);
  const identityKey = requireLength("identityKey", req.identityKey, IDENTITY_KEY_BYTES);
  if (req.deviceKeys.length > services.config.limits.maxDevicesPerAccount) {
    throw new QpqError(ErrorCode.InvalidArgument, "more device keys than an account may have devices");
  }
  const user = await services.store.getUserByIdentity(identityKey);
  if (!user) throw new QpqError(ErrorCode.NoKeyPackage, "the user has no KeyPackage available");
  const devices = await services.store.listDevices(user.username);
  // An account that never attached a device stocks KeyPackages under its account key.
  const owners =
    devices.length === 0
      ? [{ deviceKey: identityKey, issuedAtMs: 0, certificate: new Uint8Array(0) }]
      : devices.filter(
          (d) =>
            d.revokedAtMs === undefined &&
            (req.deviceKeys.length === 0 || req.deviceKeys.some((k) => bytesEqual(k, d.deviceKey))),
        );
  const keyPackages = [];
  for (const device of owners) {
    const claimed = await services.store.claimKeyPackage(device.deviceKey);
    if (!claimed) continue;
    keyPackages.push({
      deviceKey: device.deviceKey,
      issuedAtMs: device.issuedAtMs,
      certificate: device.certificate,
      ...claimed,
    });
  }
  if (keyPackages.length === 0)
    throw new QpqError(ErrorCode.NoKeyPackage, "the user has no KeyPackage available");
  return { keyPackages };
};
