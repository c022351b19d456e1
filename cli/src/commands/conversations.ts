/** dm, group create, invite, members, channels, verify. */
import type { Context } from "../context.ts";
import {
  describeConversation,
  findDirect,
  listConversations,
  resolveConversation,
} from "../conversations.ts";
import { CliError, ExitCode } from "../exitCodes.ts";
import { resumeSession, type Session } from "../session.ts";

async function withSession(ctx: Context, fn: (session: Session) => Promise<void>): Promise<void> {
  const session = await resumeSession(ctx);
  try {
    await fn(session);
  } finally {
    await session.close();
  }
}

/**
 * Every user is looked up before anything changes, so a typo fails with E012 and leaves no
 * half-made conversation behind.
 */
async function requireUsers(session: Session, usernames: string[]): Promise<void> {
  for (const username of usernames) {
    if (username === session.messenger.username) {
      throw new CliError(ExitCode.Usage, "you are always a member of your own conversations");
    }
    await session.gw.resolveUser(username);
  }
}

export function dm(ctx: Context): Promise<void> {
  const user = ctx.args[0]!;
  return withSession(ctx, async (session) => {
    let conversation = await findDirect(session.messenger, user);
    const created = !conversation;
    if (!conversation) {
      await requireUsers(session, [user]);
      const id = await session.messenger.createConversation("", [user]);
      const group = (await session.messenger.conversations()).find((g) => g.id === id)!;
      conversation = await describeConversation(session.messenger, group);
    }
    ctx.result(conversation.id, { ...conversation, created });
  });
}

export function groupCreate(ctx: Context): Promise<void> {
  const [name, ...users] = ctx.args as [string, ...string[]];
  if (name.trim() === "") throw new CliError(ExitCode.Usage, "a group needs a name");
  return withSession(ctx, async (session) => {
    await requireUsers(session, users);
    const id = await session.messenger.createConversation(name, users);
    const group = (await session.messenger.conversations()).find((g) => g.id === id)!;
    const conversation = await describeConversation(session.messenger, group);
    ctx.result(id, conversation);
  });
}

export function invite(ctx: Context): Promise<void> {
  const [ref, ...users] = ctx.args as [string, ...string[]];
  return withSession(ctx, async (session) => {
    const target = await resolveConversation(session.messenger, ref);
    const already = users.filter((u) => target.members.includes(u));
    if (already.length > 0) throw new CliError(ExitCode.Usage, `already a member: ${already.join(", ")}`);
    await requireUsers(session, users);
    await session.messenger.invite(target.id, users);
    const group = (await session.messenger.conversations()).find((g) => g.id === target.id)!;
    const conversation = await describeConversation(session.messenger, group);
    ctx.result(`invited ${users.join(", ")} to ${conversation.title}`, conversation);
  });
}

export function members(ctx: Context): Promise<void> {
  return withSession(ctx, async (session) => {
    const conversation = await resolveConversation(session.messenger, ctx.args[0]!);
    ctx.result(conversation.members, {
      id: conversation.id,
      title: conversation.title,
      members: conversation.members,
    });
  });
}

export function channels(ctx: Context): Promise<void> {
  return withSession(ctx, async (session) => {
    const all = await listConversations(session.messenger);
    ctx.result(
      all.map(
        (c) =>
          `${c.id.slice(0, 12)}  ${c.direct ? "dm   " : "group"}  ${c.title}  ` +
          (c.left ? "(you left)" : c.removed ? "(you were removed)" : `(${c.members.length} members)`),
      ),
      all,
    );
  });
}

export function verify(ctx: Context): Promise<void> {
  const user = ctx.args[0]!;
  return withSession(ctx, async (session) => {
    let contact = await session.messenger.contact(user);
    if (!contact) {
      throw new CliError(
        ExitCode.NotFound,
        `no key known for ${user} yet: share a conversation with them first`,
      );
    }
    if (ctx.options.confirm) contact = await session.messenger.verifyContact(user);
    const status = contact.impostor
      ? "WARNING: a group holds someone else claiming this name"
      : contact.keyChanged
        ? "WARNING: the key changed since you verified it; compare again"
        : contact.verified
          ? "verified"
          : "not verified";
    ctx.result([`safety number with ${user}:`, contact.safetyNumber, status], {
      username: user,
      safetyNumber: contact.safetyNumber,
      verified: contact.verified,
      keyChanged: contact.keyChanged,
      impostor: contact.impostor,
    });
  });
}
