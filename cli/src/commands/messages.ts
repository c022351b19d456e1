/** send and recv. */
import type { Conversation, MessageRecord } from "@qpq/shared/client";
import type { Context } from "../context.ts";
import { resolveConversation } from "../conversations.ts";
import { CliError, ExitCode } from "../exitCodes.ts";
import { readAll } from "../password.ts";
import { resumeSession, type Session } from "../session.ts";
import { terminalSafe } from "../terminalSafe.ts";

/** Where `recv` stopped: the store's insertion number of the last message it looked at. */
const RECV_MARK = "recvMark";

export async function send(ctx: Context): Promise<void> {
  const [ref, ...words] = ctx.args as [string, ...string[]];
  const fromStdin = words.length === 0 || (words.length === 1 && words[0] === "-");
  if (fromStdin && process.stdin.isTTY)
    ctx.notice("type the message; end it with Ctrl-D on a line of its own");
  // Read before connecting: a script piping text should not hold a connection while it writes.
  const text = fromStdin ? (await readAll(process.stdin)).replace(/\r?\n$/, "") : words.join(" ");
  if (text.length === 0) throw new CliError(ExitCode.Usage, "nothing to send");
  const session = await resumeSession(ctx);
  try {
    const conversation = await resolveConversation(session.messenger, ref);
    const sent = await session.messenger.send(conversation.id, text);
    if (sent.status !== "sent") {
      throw new CliError(
        ExitCode.Unreachable,
        "the message was not accepted by the gateway; it is kept and retried later",
      );
    }
    ctx.result(`sent to ${conversation.title}`, messageJson(sent, conversation));
  } finally {
    await session.close();
  }
}

export async function recv(ctx: Context): Promise<void> {
  // Before anything else: an interrupt while catching up must still end the command cleanly.
  const interrupted = ctx.options.follow ? interruption() : undefined;
  const session = await resumeSession(ctx);
  try {
    if (interrupted) await follow(ctx, session, interrupted);
    else await printNew(ctx, session);
  } finally {
    await session.close();
  }
}

function interruption(): Promise<"signal"> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve("signal"));
    process.once("SIGTERM", () => resolve("signal"));
  });
}

/**
 * Prints what arrived so far, then each message as it arrives, until interrupted or until the
 * session ends. Reconnection is the core's ConnectionManager: after a drop it resumes the session
 * and fetches what arrived meanwhile.
 */
async function follow(ctx: Context, session: Session, interrupted: Promise<"signal">): Promise<void> {
  // Printing is serialized, and the listener is in place before the first print, so a message
  // arriving at any moment is printed exactly once.
  let printing = Promise.resolve();
  const schedule = () => {
    printing = printing
      .then(() => printNew(ctx, session))
      .catch((error: unknown) => ctx.notice(String(error)));
  };
  const offMessage = session.messenger.on("message", schedule);
  const offError = session.messenger.on("error", (error) => ctx.notice(`qpq: ${String(error)}`));
  schedule();
  session.connection.keep(session.messenger, session.gw, session.messenger.login.sessionToken);
  // Running until interrupted, it does the periodic work (key rotation, commits) a long-lived client does.
  session.messenger.start();
  const expired = new Promise<"expired">((resolve) => {
    session.connection.onStatus((status, detail) => {
      if (status === "expired") resolve("expired");
      else if (status === "offline") ctx.notice(`qpq: offline (${detail ?? "reconnecting"})`);
      else if (status === "online") ctx.notice("qpq: online");
    });
  });
  const ended = await Promise.race([interrupted, expired]);
  offMessage();
  offError();
  await printing;
  if (ended === "expired") {
    await ctx.state.deleteSession();
    throw new CliError(ExitCode.NoSession, "the session has ended: run `qpq login`");
  }
}

async function printNew(ctx: Context, session: Session): Promise<void> {
  const { store, messenger } = session;
  const mark = store.getMeta<number>(RECV_MARK) ?? 0;
  const { messages, upTo } = await store.messagesAfter(mark);
  const incoming = messages.filter((m) => m.sender !== messenger.username);
  let titles: Map<string, Conversation> | undefined;
  if (incoming.length > 0) titles = new Map((await messenger.listConversations()).map((c) => [c.id, c]));
  for (const message of incoming) {
    const conversation = titles?.get(message.groupId);
    if (ctx.json) process.stdout.write(JSON.stringify(messageJson(message, conversation)) + "\n");
    else process.stdout.write(terminalSafe(humanLine(message, conversation)) + "\n");
  }
  if (upTo !== mark) await store.putMeta(RECV_MARK, upTo);
}

function humanLine(message: MessageRecord, conversation: Conversation | undefined): string {
  const when = new Date(message.sentAtMs).toISOString().replace("T", " ").slice(0, 19);
  const where = conversation?.direct ? "" : `[${conversation?.title ?? message.groupId.slice(0, 12)}] `;
  const text = message.status === "undecryptable" ? "(a message that could not be decrypted)" : message.text;
  return `${when} ${where}${message.sender}: ${text}`;
}

function messageJson(message: MessageRecord, conversation: Conversation | undefined) {
  return {
    conversation: message.groupId,
    title: conversation?.title ?? "",
    id: message.id,
    sender: message.sender,
    text: message.text,
    sentAtMs: message.sentAtMs,
    receivedAtMs: message.receivedAtMs,
    status: message.status,
  };
}
