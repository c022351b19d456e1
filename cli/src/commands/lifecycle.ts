/** remove, leave and update: membership changes through the client core's Messenger. */
import { sameUsername, type Conversation } from "@qpq/shared/client";
import type { Context } from "../context.ts";
import { resolveConversation } from "../conversations.ts";
import { CliError, ExitCode } from "../exitCodes.ts";
import { resumeSession, type Session } from "../session.ts";

async function inConversation(
  ctx: Context,
  fn: (session: Session, conversation: Conversation) => Promise<string>,
): Promise<void> {
  const session = await resumeSession(ctx);
  try {
    const target = await resolveConversation(session.messenger, ctx.args[0]!);
    const done = await fn(session, target);
    ctx.result(done, await session.messenger.conversation(target.id));
  } finally {
    await session.close();
  }
}

export function remove(ctx: Context): Promise<void> {
  const user = ctx.args[1]!;
  return inConversation(ctx, async (session, conversation) => {
    // Its own exit code: a script removing someone already gone can tell that from a refusal.
    if (!conversation.members.some((m) => sameUsername(m, user))) {
      throw new CliError(ExitCode.NotFound, `${user} is not a member of ${conversation.title}`);
    }
    await session.messenger.remove(conversation.id, user);
    return `removed ${user} from ${conversation.title}`;
  });
}

/**
 * Leaves a conversation. MLS does not let a member commit its own removal, so this sends a proposal
 * that another member's client commits the next time it is online; this device stops at once.
 */
export function leave(ctx: Context): Promise<void> {
  return inConversation(ctx, async (session, conversation) => {
    await session.messenger.leave(conversation.id);
    return `left ${conversation.title}`;
  });
}

export function update(ctx: Context): Promise<void> {
  return inConversation(ctx, async (session, conversation) => {
    await session.messenger.rotateKeys(conversation.id);
    return `new keys in use in ${conversation.title}`;
  });
}
