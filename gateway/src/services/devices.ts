/**
 * An account's devices (docs/cryptography/devices.md): attaching a session to a device, the device
 * list, renaming and revoking, and the sealed account bundle a new device opens with the password.
 * The gateway checks device certificates so that it never stores or serves a device the account key
 * did not sign, but every client verifies them again: trust rests on the account key.
 */
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { bytesEqual } from "@qpq/shared/bytes";
import { verifyDeviceCertificate } from "@qpq/shared/crypto/devices";
import type { DeviceRecord, NewDevice } from "../store/types.ts";
import type { AuthenticatedSession, ConnectionState, Handler, Services } from "./context.ts";
import { announceDeviceChange } from "./deviceNotices.ts";
import { IDENTITY_KEY_BYTES, requireLength, requireSession } from "./guards.ts";

const MAX_DEVICE_NAME = 64;
const MAX_BUNDLE_BYTES = 4096;
const ORIGINAL_DEVICE_NAME = "original device";

/** Printable, trimmed, 1-64 characters: a label shown in other devices' lists. */
function deviceName(raw: string): string {
  const name = raw.normalize("NFC").trim();
  if (name.length === 0 || [...name].length > MAX_DEVICE_NAME || /[\p{Cc}\p{Cf}]/u.test(name)) {
    throw new QpqError(
      ErrorCode.InvalidArgument,
      `a device name is 1-${MAX_DEVICE_NAME} printable characters`,
    );
  }
  return name;
}

async function attach(
  services: Services,
  session: AuthenticatedSession,
  device: NewDevice,
): Promise<boolean> {
  const outcome = await services.store.addDevice(device, services.config.limits.maxDevicesPerAccount);
  switch (outcome) {
    case "revoked":
      throw new QpqError(ErrorCode.DeviceRevoked, "this device was revoked; log in again as a new device");
    case "full":
      throw new QpqError(
        ErrorCode.DeviceLimit,
        `the account has ${services.config.limits.maxDevicesPerAccount} devices; revoke one first`,
      );
    case "taken":
      throw new QpqError(ErrorCode.IdentityTaken, "this device key belongs to another account");
    case "added":
    case "exists":
      break;
  }
  if (outcome === "added") services.devices.invalidate(session.identityKey);
  await services.store.setSessionDevice(session.tokenHash, device.deviceKey);
  await services.store.touchDevice(device.deviceKey, services.now());
  session.deviceKey = device.deviceKey;
  return outcome === "added";
}

/**
 * The session with its device. A session that never attached one (a client from before devices)
 * acts for the account's original device, whose key is the account key.
 */
export async function requireDevice(
  conn: ConnectionState,
  services: Services,
): Promise<AuthenticatedSession> {
  const session = requireSession(conn, services);
  if (session.deviceKey.length > 0) return session;
  // Only an account from before devices (none yet, or its original one) may skip attaching: otherwise
  // the account key would become a phantom device that receives copies of everything.
  const devices = await services.store.listDevices(session.username);
  if (devices.length > 0 && !devices.some((d) => bytesEqual(d.deviceKey, session.identityKey))) {
    throw new QpqError(ErrorCode.Unauthenticated, "this session acts for no device yet: attachDevice first");
  }
  const now = services.now();
  await attach(services, session, {
    deviceKey: session.identityKey,
    username: session.username,
    certificate: new Uint8Array(0),
    issuedAtMs: 0,
    name: ORIGINAL_DEVICE_NAME,
    createdAtMs: now,
    lastSeenMs: now,
  });
  return session;
}

export const attachDevice: Handler<"attachDevice"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  const deviceKey = requireLength("deviceKey", req.deviceKey, IDENTITY_KEY_BYTES);
  if (session.deviceKey.length > 0 && !bytesEqual(session.deviceKey, deviceKey)) {
    throw new QpqError(ErrorCode.InvalidArgument, "this session acts for another device; log in again");
  }
  const original = bytesEqual(deviceKey, session.identityKey);
  const certificate = { deviceKey, issuedAtMs: req.issuedAtMs, signature: req.certificate };
  if (!original && !verifyDeviceCertificate(session.identityKey, session.username, certificate)) {
    throw new QpqError(
      ErrorCode.DeviceCertificateInvalid,
      "the device certificate is not signed by your account key for this device",
    );
  }
  const now = services.now();
  const added = await attach(services, session, {
    deviceKey,
    username: session.username,
    certificate: original ? new Uint8Array(0) : req.certificate,
    issuedAtMs: original ? 0 : certificate.issuedAtMs,
    name: deviceName(req.name === "" ? ORIGINAL_DEVICE_NAME : req.name),
    createdAtMs: now,
    lastSeenMs: now,
  });
  // Members' devices are told once it has KeyPackages to be added with (keyPackages.ts).
  return { added };
};

function deviceInfo(device: DeviceRecord, own: boolean) {
  return {
    deviceKey: device.deviceKey,
    issuedAtMs: device.issuedAtMs,
    certificate: device.certificate,
    revokedAtMs: device.revokedAtMs ?? 0,
    name: own ? device.name : "",
    lastSeenMs: own ? device.lastSeenMs : 0,
    createdAtMs: own ? device.createdAtMs : 0,
  };
}

export const listDevices: Handler<"listDevices"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  const accountKey = requireLength("identityKey", req.identityKey, IDENTITY_KEY_BYTES);
  const user = await services.store.getUserByIdentity(accountKey);
  if (!user) return { devices: [] };
  const own = user.username === session.username;
  const devices = await services.store.listDevices(user.username);
  return { devices: devices.map((d) => deviceInfo(d, own)) };
};

export const renameDevice: Handler<"renameDevice"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  const deviceKey = requireLength("deviceKey", req.deviceKey, IDENTITY_KEY_BYTES);
  if (!(await services.store.renameDevice(session.username, deviceKey, deviceName(req.name)))) {
    throw new QpqError(ErrorCode.InvalidArgument, "not one of your devices in use");
  }
  return undefined;
};

export const revokeDevice: Handler<"revokeDevice"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  const deviceKey = requireLength("deviceKey", req.deviceKey, IDENTITY_KEY_BYTES);
  const ended = await services.store.revokeDevice(session.username, deviceKey, services.now());
  if (!ended) throw new QpqError(ErrorCode.InvalidArgument, "not one of your devices in use");
  services.devices.invalidate(session.identityKey);
  for (const tokenHash of ended) {
    services.sessions.end(tokenHash, "signed out: this device was revoked by its account", conn);
  }
  // Revoking the device this session acts for ends this session too, once it has its answer.
  if (bytesEqual(session.deviceKey, deviceKey)) {
    conn.session = undefined;
    services.sessions.unbind(conn);
  }
  // Members' devices remove its leaves (the revoking device does too, but may be cut off first).
  await announceDeviceChange(services, session.identityKey);
  return undefined;
};

export const putAccountBundle: Handler<"putAccountBundle"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  if (req.bundle.length === 0 || req.bundle.length > MAX_BUNDLE_BYTES) {
    throw new QpqError(ErrorCode.InvalidArgument, `an account bundle is 1-${MAX_BUNDLE_BYTES} bytes`);
  }
  await services.store.setAccountBundle(session.username, req.bundle);
  return undefined;
};

export const getAccountBundle: Handler<"getAccountBundle"> = async (_req, conn, services) => {
  const session = requireSession(conn, services);
  return { bundle: (await services.store.getAccountBundle(session.username)) ?? new Uint8Array(0) };
};
