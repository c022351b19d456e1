/** register, login, logout, whoami. */
import { toHex } from "@qpq/shared/bytes";
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import type { Context } from "../context.ts";
import { CliError, ExitCode } from "../exitCodes.ts";
import { acquireStateLock } from "../lock.ts";
import { passwordSession, resumeSession } from "../session.ts";

export async function register(ctx: Context): Promise<void> {
  await signIn(ctx, "register");
}

export async function login(ctx: Context): Promise<void> {
  await signIn(ctx, "login");
}

async function signIn(ctx: Context, mode: "register" | "login"): Promise<void> {
  const session = await passwordSession(ctx, mode);
  try {
    const { username, identity } = session.messenger;
    ctx.result(
      `${mode === "register" ? "registered and logged in" : "logged in"} as ${username} at ${session.gateway}`,
      {
        username,
        gateway: session.gateway,
        identityKey: toHex(identity.signaturePublicKey),
        expiresAtMs: session.messenger.login.session.expiresAtMs,
      },
    );
  } finally {
    await session.close();
  }
}

/**
 * Revokes the token at the gateway, then forgets it and the state key here. Without the gateway the
 * local copy is still deleted (the token then lapses on its own at expiry), and the command says so.
 */
export async function logout(ctx: Context): Promise<void> {
  const saved = await ctx.state.readSession();
  if (!saved) throw new CliError(ExitCode.NoSession, "not logged in");
  let revoked = true;
  try {
    const session = await resumeSession(ctx);
    try {
      await session.messenger.logout();
    } finally {
      await session.close();
    }
  } catch (error) {
    const unreachable = error instanceof QpqError && error.code === ErrorCode.Unavailable;
    // NoSession here means the gateway had already ended the session: nothing left to revoke.
    const ended = error instanceof CliError && error.exitCode === ExitCode.NoSession;
    if (!unreachable && !ended) throw error;
    revoked = ended;
  }
  const lock = await acquireStateLock(ctx.state.path);
  try {
    await ctx.state.deleteSession();
  } finally {
    await lock.release();
  }
  if (!revoked)
    ctx.notice("the gateway was unreachable: the session was forgotten here but not revoked there");
  ctx.result(`logged out ${saved.username}`, { username: saved.username, revoked });
}
