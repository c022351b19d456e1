/** Checks shared by the operation handlers; each throws a QpqError with the registry code. */
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import type { AuthenticatedSession, ConnectionState, Services } from "./context.ts";

/** Usernames are canonicalized by the rule every client applies too (NFKC, lowercase, a-z0-9._-). */
export { canonicalUsername as normalizeUsername } from "@qpq/shared/username";

export function requireLength(name: string, bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length !== length) {
    throw new QpqError(ErrorCode.InvalidArgument, `${name} must be ${length} bytes, got ${bytes.length}`);
  }
  return bytes;
}

export function requireNonEmpty(name: string, bytes: Uint8Array, max: number): Uint8Array {
  if (bytes.length === 0 || bytes.length > max) {
    throw new QpqError(ErrorCode.InvalidArgument, `${name} must be 1-${max} bytes, got ${bytes.length}`);
  }
  return bytes;
}

/** The session bound to this connection, re-checked for expiry on every call. */
export function requireSession(conn: ConnectionState, services: Services): AuthenticatedSession {
  const session = conn.session;
  if (!session) throw new QpqError(ErrorCode.Unauthenticated, "log in first");
  if (session.expiresAtMs <= services.now()) {
    conn.session = undefined;
    throw new QpqError(ErrorCode.SessionInvalid, "session expired; log in again");
  }
  return session;
}

/** Ed25519 public keys are 32 bytes: the identity of a user's MLS credential. */
export const IDENTITY_KEY_BYTES = 32;
