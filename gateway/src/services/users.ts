import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import type { Handler } from "./context.ts";
import { normalizeUsername, requireSession } from "./guards.ts";

/**
 * Username -> identity key. Logged-in users only: the directory is how people find each other, and
 * keeping it behind a session makes bulk enumeration cost an account (and, later, its rate limits).
 */
export const resolveUser: Handler<"resolveUser"> = async (req, conn, services) => {
  requireSession(conn, services);
  const user = await services.store.getUserByName(normalizeUsername(req.username));
  if (!user) throw new QpqError(ErrorCode.UserNotFound, "no such user");
  return { identityKey: user.identityKey };
};
