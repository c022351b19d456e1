import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import type { Handler } from "./context.ts";
import { normalizeUsername, requireSession } from "./guards.ts";
import { addressKey, sessionKey } from "./throttle.ts";

/**
 * Username -> identity key. Logged-in users only: the directory is how people find each other, and
 * keeping it behind a session makes bulk enumeration cost an account and its rate limits. Charged
 * before the lookup, so misses cost the same as hits.
 */
export const resolveUser: Handler<"resolveUser"> = async (req, conn, services) => {
  const session = requireSession(conn, services);
  const { resolvePerSession, resolvePerAddress } = services.config.limits;
  services.throttle.take(
    [
      { key: `resolve:${sessionKey(session.tokenHash)}`, rule: resolvePerSession },
      { key: `resolve:${addressKey(conn.remoteAddress)}`, rule: resolvePerAddress },
    ],
    "lookup",
  );
  const user = await services.store.getUserByName(normalizeUsername(req.username));
  if (!user) throw new QpqError(ErrorCode.UserNotFound, "no such user");
  return { identityKey: user.identityKey };
};
