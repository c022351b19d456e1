/** Checks shared by the operation handlers; each throws a QpqError with the registry code. */
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import type { AuthenticatedSession, ConnectionState, Services } from "./context.ts";

const USERNAME = /^[a-z0-9][a-z0-9._-]{0,31}$/;

/**
 * Usernames are compared after NFKC normalization and lowercasing, so "Alice" and "alice" (or
 * look-alike compatibility forms) cannot be registered as two different people.
 */
export function normalizeUsername(raw: string): string {
  const name = raw.normalize("NFKC").toLowerCase();
  if (!USERNAME.test(name)) {
    throw new QpqError(
      ErrorCode.InvalidArgument,
      "username must be 1-32 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit",
    );
  }
  return name;
}

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
