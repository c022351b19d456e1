import { ErrorCode, formatErrorCode, QpqError } from "@qpq/shared/protocol";

/** The gateway's words when it ends the session of a device its account revoked. */
const REVOKED_SESSION = /revoked/i;

function sentence(error: QpqError): string {
  switch (error.code) {
    case ErrorCode.AuthFailed:
      return "Wrong username or password.";
    case ErrorCode.UsernameTaken:
      return "That username is taken. Pick another one.";
    case ErrorCode.UserNotFound:
      return "There is no user with that name.";
    case ErrorCode.NoKeyPackage:
      return "That user cannot be added right now (they have no key packages left). Try again later.";
    case ErrorCode.Unavailable:
      return "The gateway is unreachable. Check your connection; the app keeps retrying.";
    case ErrorCode.RateLimited:
      return `Too many attempts. Try again in ${Math.ceil(error.retryAfterMs / 1000)} s.`;
    case ErrorCode.SessionInvalid:
      return REVOKED_SESSION.test(error.detail)
        ? "This device was revoked by your account and is signed out."
        : "Your session ended. Log in again.";
    case ErrorCode.InvalidArgument:
      return error.detail.charAt(0).toUpperCase() + error.detail.slice(1) + ".";
    case ErrorCode.VersionIncompatible:
      return error.detail;
    case ErrorCode.DeviceRevoked:
      return "This device was revoked by your account: it cannot log in again. Use another browser (or clear this site's data) to add it as a new device.";
    case ErrorCode.DeviceLimit:
      return "Your account has as many devices as the gateway allows. Revoke one from the device list of another device first.";
    case ErrorCode.DeviceCertificateInvalid:
      return "A device certificate did not verify against the account key.";
    case ErrorCode.BackupFull:
      return "Your account's history backup is full: new messages are not backed up for new devices.";
    default:
      return "Something went wrong.";
  }
}

/** One place that turns failures into sentences a person can act on, each with its code (E007). */
export function describeError(error: unknown): string {
  if (error instanceof QpqError) {
    // A revoked device's session ends with E002 on the wire; what the person needs to know is E035.
    const code = isRevocation(error) ? formatErrorCode(ErrorCode.DeviceRevoked) : error.codeString;
    return `${sentence(error)} (${code})`;
  }
  if (error instanceof Error && /WebTransport|network|fetch|Failed to fetch/i.test(error.message)) {
    return "The gateway is unreachable. Check your connection; the app keeps retrying.";
  }
  return "Something went wrong.";
}

/** Whether an error means this device was revoked (its session ended, or it may not attach). */
export function isRevocation(error: unknown): boolean {
  return (
    error instanceof QpqError &&
    (error.code === ErrorCode.DeviceRevoked ||
      (error.code === ErrorCode.SessionInvalid && REVOKED_SESSION.test(error.detail)))
  );
}
