/**
 * Registration and login with OPAQUE: the gateway stores a registration record per username and
 * never sees a password. A successful login yields a random session token; only its SHA-256 is
 * stored, so a copy of the database does not let anyone act as a user.
 */
import { createHash, randomBytes } from "node:crypto";
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { constantTimeEqual, fromBase64Url, toBase64Url } from "@qpq/shared/bytes";
import type { ConnectionState, Handler, Services } from "./context.ts";
import { IDENTITY_KEY_BYTES, normalizeUsername, requireLength, requireNonEmpty } from "./guards.ts";
import { addressKey } from "./throttle.ts";

const MAX_OPAQUE_MESSAGE = 4096;

/** An OPAQUE message as serenity-kit takes it; empty or oversized counts as malformed, like junk. */
function opaqueText(name: string, bytes: Uint8Array, services: Services): string {
  try {
    return toBase64Url(requireNonEmpty(name, bytes, MAX_OPAQUE_MESSAGE));
  } catch (error) {
    services.metrics.count("opaqueMalformed");
    throw error;
  }
}

export function hashToken(token: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(token).digest());
}

export const registerStart: Handler<"registerStart"> = async (req, conn, services) => {
  const username = normalizeUsername(req.username);
  services.throttle.take(
    [{ key: `register:${addressKey(conn.remoteAddress)}`, rule: services.config.limits.registerPerAddress }],
    "registration",
  );
  // Registration cannot hide whether a name is taken (the user must be told); saying so before the
  // client does its expensive key stretching is kinder, and it reveals nothing registerFinish would not.
  if (await services.store.getUserByName(username)) {
    throw new QpqError(ErrorCode.UsernameTaken, "username is taken");
  }
  const response = services.opaque.createRegistrationResponse(
    username,
    opaqueText("registrationRequest", req.registrationRequest, services),
  );
  conn.pendingRegistration = username;
  return { registrationResponse: fromBase64Url(response) };
};

export const registerFinish: Handler<"registerFinish"> = async (req, conn, services) => {
  const username = normalizeUsername(req.username);
  // Only after a (throttled) registerStart for this name on this connection: otherwise records could
  // be pushed in bulk past the registration limit.
  if (conn.pendingRegistration !== username) {
    throw new QpqError(ErrorCode.InvalidArgument, "start the registration first (registerStart)");
  }
  conn.pendingRegistration = undefined;
  const identityKey = requireLength("identityKey", req.identityKey, IDENTITY_KEY_BYTES);
  const record = opaqueText("registrationRecord", req.registrationRecord, services);
  services.opaque.checkRecord(username, record);
  const created = await services.store.createUser({
    username,
    identityKey,
    opaqueRecord: record,
    createdAtMs: services.now(),
  });
  if (!created) {
    if (await services.store.getUserByName(username)) {
      throw new QpqError(ErrorCode.UsernameTaken, "username is taken");
    }
    throw new QpqError(ErrorCode.IdentityTaken, "identity key is already registered");
  }
  return undefined;
};

export const loginStart: Handler<"loginStart"> = async (req, conn, services) => {
  const username = normalizeUsername(req.username);
  const { loginPerUser, authPerAddress } = services.config.limits;
  // Charged for unknown usernames too, so the limit itself does not reveal who exists.
  services.throttle.take(
    [
      { key: `login:${username}`, rule: loginPerUser },
      { key: `auth:${addressKey(conn.remoteAddress)}`, rule: authPerAddress },
    ],
    "login",
  );
  const source = addressKey(conn.remoteAddress);
  services.logins.checkRoom(source, services.config.limits.loginTimeoutMs);
  const user = await services.store.getUserByName(username);
  const { serverLoginState, loginResponse } = services.opaque.startLogin(
    username,
    user?.opaqueRecord,
    opaqueText("startLoginRequest", req.startLoginRequest, services),
  );
  const loginId = services.logins.add(
    {
      username,
      userExists: user !== undefined,
      serverLoginState,
      expiresAtMs: services.now() + services.config.limits.loginTimeoutMs,
    },
    source,
  );
  return { loginId, loginResponse: fromBase64Url(loginResponse) };
};

const authFailed = () => new QpqError(ErrorCode.AuthFailed, "wrong username or password");

export const loginFinish: Handler<"loginFinish"> = async (req, conn, services) => {
  const pending = services.logins.take(requireLength("loginId", req.loginId, 16));
  if (!pending) throw new QpqError(ErrorCode.LoginExpired, "unknown or expired login; start again");
  // Throws AuthFailed for a wrong proof, InvalidArgument for a message that does not parse.
  services.opaque.finishLogin(
    pending.serverLoginState,
    opaqueText("finishLoginRequest", req.finishLoginRequest, services),
  );
  const user = pending.userExists ? await services.store.getUserByName(pending.username) : undefined;
  if (!user) throw authFailed();
  requireUnboundOrSame(conn, user.username);

  const token = new Uint8Array(randomBytes(32));
  const now = services.now();
  // Over the per-account limit the oldest sessions end (rather than this login being refused): a
  // user who lost devices without logging out must still be able to log in on a new one.
  const evicted = await services.store.trimSessions(
    user.username,
    services.config.limits.maxSessionsPerUser - 1,
    now,
  );
  for (const tokenHash of evicted) {
    services.sessions.end(
      tokenHash,
      "signed out: a newer login replaced this session (too many sessions)",
      conn,
    );
  }
  const session = {
    tokenHash: hashToken(token),
    username: user.username,
    identityKey: user.identityKey,
    // Attached by attachDevice, or to the account key by the first queue operation (older clients).
    deviceKey: new Uint8Array(0),
    createdAtMs: now,
    expiresAtMs: now + services.config.limits.sessionTtlMs,
  };
  await services.store.createSession(session);
  bind(conn, session, services);
  return {
    sessionToken: token,
    session: { username: user.username, identityKey: user.identityKey, expiresAtMs: session.expiresAtMs },
  };
};

export const resumeSession: Handler<"resumeSession"> = async (req, conn, services) => {
  const tokenHash = hashToken(requireLength("sessionToken", req.sessionToken, 32));
  const session = await services.store.getSession(tokenHash, services.now());
  if (!session || !constantTimeEqual(session.tokenHash, tokenHash)) {
    throw new QpqError(ErrorCode.SessionInvalid, "session expired or revoked; log in again");
  }
  requireUnboundOrSame(conn, session.username);
  bind(conn, session, services);
  return { username: session.username, identityKey: session.identityKey, expiresAtMs: session.expiresAtMs };
};

export const logout: Handler<"logout"> = async (_req, conn, services) => {
  const session = conn.session;
  if (!session) throw new QpqError(ErrorCode.Unauthenticated, "not logged in");
  await services.store.deleteSession(session.tokenHash);
  conn.session = undefined;
  services.sessions.unbind(conn);
  // A token stolen and already in use elsewhere must stop working now, not at its next resume.
  services.sessions.end(session.tokenHash, "signed out: the session was logged out on another connection");
  return undefined;
};

/** A connection serves one user: switching users needs a new connection (or a logout first). */
function requireUnboundOrSame(conn: ConnectionState, username: string): void {
  if (conn.session && conn.session.username !== username) {
    throw new QpqError(ErrorCode.AlreadyAuthenticated, "connection is bound to another user; log out first");
  }
}

function bind(
  conn: ConnectionState,
  session: {
    username: string;
    identityKey: Uint8Array;
    deviceKey: Uint8Array;
    tokenHash: Uint8Array;
    expiresAtMs: number;
  },
  services: Services,
): void {
  services.sessions.bind(session.tokenHash, conn);
  conn.session = {
    username: session.username,
    identityKey: session.identityKey,
    deviceKey: session.deviceKey,
    tokenHash: session.tokenHash,
    expiresAtMs: session.expiresAtMs,
  };
}
