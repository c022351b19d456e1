/** remove, leave and update: the group lifecycle of the client core (Messenger.lifecycle). */
import type { Context } from "../context.ts";
import { describeConversation, resolveConversation, type ConversationInfo } from "../conversations.ts";
import { CliError, ExitCode } from "../exitCodes.ts";
import { resumeSession, type Session } from "../session.ts";

async function inConversation(
  ctx: Context,
  fn: (session: Session, conversation: ConversationInfo) => Promise<string>,
): Promise<void> {
  const session = await resumeSession(ctx);
  try {
    const target = await resolveConversation(session.messenger, ctx.args[0]!);
    const done = await fn(session, target);
    const group = (await session.messenger.conversations()).find((g) => g.id === target.id)!;
    ctx.result(done, await describeConversation(session.messenger, group));
  } finally {
    await session.close();
  }
}

export function remove(ctx: Context): Promise<void> {
  const user = ctx.args[1]!;
  return inConversation(ctx, async (session, conversation) => {
    if (user === session.messenger.username) {
      throw new CliError(ExitCode.Usage, "you cannot remove yourself");
    }
    if (!conversation.members.includes(user)) {
      throw new CliError(ExitCode.NotFound, `${user} is not a member of ${conversation.title}`);
    }
    await session.messenger.lifecycle.remove(conversation.id, user);
    return `removed ${user} from ${conversation.title}`;
  });
}

/**
 * Leaves a conversation. MLS does not let a member commit its own removal, so this sends a proposal
 * that another member's client commits the next time it is online; this device stops at once.
 */
export function leave(ctx: Context): Promise<void> {
  return inConversation(ctx, async (session, conversation) => {
    if (conversation.removed) {
      throw new CliError(
        ExitCode.Rejected,
        conversation.left
          ? `you already left ${conversation.title}`
          : `you were removed from ${conversation.title}`,
      );
    }
    await session.messenger.lifecycle.leave(conversation.id);
    return `left ${conversation.title}`;
  });
}

export function update(ctx: Context): Promise<void> {
  return inConversation(ctx, async (session, conversation) => {
    await session.messenger.lifecycle.rotateKeys(conversation.id);
    return `new keys in use in ${conversation.title}`;
  });
}
