import { ErrorCode, QpqError } from "@qpq/shared/protocol";

/** One place that turns failures into sentences a person can act on. */
export function describeError(error: unknown): string {
  if (error instanceof QpqError) {
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
        return "Your session ended. Log in again.";
      case ErrorCode.InvalidArgument:
        return error.detail.charAt(0).toUpperCase() + error.detail.slice(1) + ".";
      case ErrorCode.VersionIncompatible:
        return error.detail;
      default:
        return `Something went wrong (${error.codeString}).`;
    }
  }
  if (error instanceof Error && /WebTransport|network|fetch|Failed to fetch/i.test(error.message)) {
    return "The gateway is unreachable. Check your connection; the app keeps retrying.";
  }
  return "Something went wrong.";
}
