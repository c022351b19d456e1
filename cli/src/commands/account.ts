/** register, login, logout, whoami. */
import { toHex } from "@qpq/shared/bytes";
import type { Messenger } from "@qpq/shared/client";
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import type { Context } from "../context.ts";
import { CliError, ExitCode } from "../exitCodes.ts";
import { acquireStateLock } from "../lock.ts";
import { passwordSession, resumeSession, type Session } from "../session.ts";

export async function register(ctx: Context): Promise<void> {
  await signIn(ctx, "register");
}

export async function login(ctx: Context): Promise<void> {
  await signIn(ctx, "login");
}

async function signIn(ctx: Context, mode: "register" | "login"): Promise<void> {
  const session = await passwordSession(ctx, mode);
  try {
    const { messenger } = session;
    const { username } = messenger;
    const joined = messenger.historyRestored ? await joinAsNewDevice(ctx, session) : undefined;
    const lines = [
      `${mode === "register" ? "registered and logged in" : "logged in"} as ${username} at ${session.gateway}`,
    ];
    if (joined) {
      lines.push(
        `this is a new device of ${username}, named "${messenger.device.name}"`,
        `restored ${joined.restored} message${joined.restored === 1 ? "" : "s"} from the account's backup`,
        joined.waitingFor === 0
          ? `in ${joined.conversations} conversation${joined.conversations === 1 ? "" : "s"}`
          : `in ${joined.conversations} conversation${joined.conversations === 1 ? "" : "s"}; ` +
              `${joined.waitingFor} more once a device of the account or a member adds this one ` +
              "(`qpq channels` and `qpq recv` show them then)",
      );
    }
    ctx.result(lines, {
      username,
      gateway: session.gateway,
      // The account's key (what the directory and safety numbers know); the device has its own.
      identityKey: toHex(messenger.accountKey),
      deviceKey: toHex(messenger.identity.signaturePublicKey),
      deviceName: messenger.device.name,
      newDevice: joined !== undefined,
      ...(joined && {
        restoredMessages: joined.restored,
        conversations: joined.conversations,
        conversationsPending: joined.waitingFor,
      }),
      expiresAtMs: messenger.login.session.expiresAtMs,
    });
  } finally {
    await session.close();
  }
}

/** How long a new device's login waits for the account's devices to add it to its conversations. */
const JOIN_WAIT_MS = 10_000;

/**
 * A new device of the account: reads the history backup, then waits (up to JOIN_WAIT_MS) until it
 * is in the conversations that history names, which needs a device of the account, or another
 * member's, to be online and add it. Then reads the backup once more: what was sent meanwhile reached
 * only the devices already in, and they back it up.
 */
async function joinAsNewDevice(
  ctx: Context,
  session: Session,
): Promise<{ restored: number; conversations: number; waitingFor: number }> {
  const { messenger, store } = session;
  ctx.notice("a new device of this account: reading the history from the account's backup…");
  // A backup that cannot be read does not undo the login: the device exists now, and says so.
  const unread = (error: unknown) => {
    ctx.notice(`qpq: the history backup could not be read: ${String(error)}`);
    return { messages: 0 };
  };
  let restored = (await messenger.historyRestored!.catch(unread)).messages;
  const { messages } = await store.messagesAfter(0);
  const expected = new Set(messages.map((m) => m.groupId));
  const missing = async () => {
    const joined = new Set((await messenger.conversations()).map((g) => g.id));
    return [...expected].filter((id) => !joined.has(id)).length;
  };
  let waitingFor = await missing();
  if (waitingFor > 0) {
    ctx.notice(`waiting for the account's devices to add this one to ${waitingFor} conversation(s)…`);
    waitingFor = await untilNone(messenger, missing, JOIN_WAIT_MS);
    await messenger.settled();
    restored += (await messenger.restoreHistory().catch(unread)).messages;
  }
  return { restored, conversations: (await messenger.conversations()).length, waitingFor };
}

/**
 * Re-counts whenever a conversation is joined or changes, until the count is 0 or the time is up;
 * returns the last count. No polling: the core's "conversation" event wakes it.
 */
async function untilNone(messenger: Messenger, count: () => Promise<number>, ms: number): Promise<number> {
  let wake: () => void = () => undefined;
  const off = messenger.on("conversation", () => wake());
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms)));
  try {
    for (;;) {
      // Armed before counting: a join while counting wakes the next wait.
      const woken = new Promise<"woken">((resolve) => (wake = () => resolve("woken")));
      const left = await count();
      if (left === 0 || (await Promise.race([woken, timeout])) === "timeout") return left;
    }
  } finally {
    clearTimeout(timer);
    off();
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
