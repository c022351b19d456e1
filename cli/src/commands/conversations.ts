/** dm, group create, invite, members, channels, verify. */
import { toHex } from "@qpq/shared/bytes";
import type { Context } from "../context.ts";
import { resolveConversation } from "../conversations.ts";
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

export function dm(ctx: Context): Promise<void> {
  return withSession(ctx, async (session) => {
    const { conversation, created } = await session.messenger.openDirect(ctx.args[0]!);
    ctx.result(conversation.id, { ...conversation, created });
  });
}

export function groupCreate(ctx: Context): Promise<void> {
  const [name, ...users] = ctx.args as [string, ...string[]];
  if (name.trim() === "") throw new CliError(ExitCode.Usage, "a group needs a name");
  return withSession(ctx, async (session) => {
    const id = await session.messenger.createConversation(name, users);
    ctx.result(id, await session.messenger.conversation(id));
  });
}

export function invite(ctx: Context): Promise<void> {
  const [ref, ...users] = ctx.args as [string, ...string[]];
  return withSession(ctx, async (session) => {
    const target = await resolveConversation(session.messenger, ref);
    await session.messenger.invite(target.id, users);
    const conversation = (await session.messenger.conversation(target.id))!;
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
    const all = await session.messenger.listConversations();
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
    const lines = [`safety number with ${contact.username}:`, contact.safetyNumber, status];
    const json = {
      username: contact.username,
      safetyNumber: contact.safetyNumber,
      verified: contact.verified,
      keyChanged: contact.keyChanged,
      impostor: contact.impostor,
    };
    if (!ctx.options.devices) return ctx.result(lines, json);
    // The devices the account key we know for them vouches for (the gateway's list, checked here).
    const devices = await session.messenger.devices.of(contact.username, contact.identityKey);
    lines.push(`devices of ${contact.username} (compare each fingerprint with that device's own list):`);
    for (const d of devices) {
      lines.push(`  ${toHex(d.deviceKey).slice(0, 12)}  ${d.fingerprint}${d.revoked ? "  (revoked)" : ""}`);
    }
    ctx.result(lines, {
      ...json,
      devices: devices.map((d) => ({
        id: toHex(d.deviceKey),
        fingerprint: d.fingerprint,
        revoked: d.revoked,
        revokedAtMs: d.revokedAtMs,
      })),
    });
  });
}
