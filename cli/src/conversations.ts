/**
 * Naming conversations on the command line. People type a group's name or the other person's
 * username; scripts use the id that `dm`, `group create` and `channels` print. Only the Messenger's
 * public API is used, so how the core addresses conversations can change underneath.
 */
import { conversationTitle, type GroupRecord, type Messenger } from "@qpq/shared/client";
import { CliError, ExitCode } from "./exitCodes.ts";

export interface ConversationInfo {
  id: string;
  name: string;
  title: string;
  members: string[];
  /** Unnamed with exactly one other member: a direct conversation. */
  direct: boolean;
  /** This device was removed: it keeps the history but can neither read nor send anything new. */
  removed: boolean;
  /** This device left (qpq leave); `removed` is then true as well. */
  left: boolean;
  epoch: number;
  updatedAtMs: number;
}

const MIN_PREFIX = 6;

export async function describeConversation(
  messenger: Messenger,
  group: GroupRecord,
): Promise<ConversationInfo> {
  const members = await messenger.members(group.id);
  const names = members.map((m) => m.username ?? "?");
  const others = names.filter((n) => n !== messenger.username);
  return {
    id: group.id,
    name: group.name,
    title: conversationTitle(group.name, members, messenger.username),
    members: names,
    direct: group.name === "" && others.length === 1,
    removed: await messenger.lifecycle.isRemoved(group.id),
    left: group.leftAtMs !== undefined,
    epoch: group.epoch,
    updatedAtMs: group.updatedAtMs,
  };
}

export async function listConversations(messenger: Messenger): Promise<ConversationInfo[]> {
  const all = await Promise.all(
    (await messenger.conversations()).map((g) => describeConversation(messenger, g)),
  );
  return all.sort((a, b) => b.updatedAtMs - a.updatedAtMs);
}

/** The direct conversation with a user, if there is one (the most recently active if several). */
export async function findDirect(
  messenger: Messenger,
  username: string,
): Promise<ConversationInfo | undefined> {
  return (await listConversations(messenger)).find(
    (c) => c.direct && c.members.includes(username) && username !== messenger.username,
  );
}

/** Resolves what the user typed: exact id, group name, direct conversation's username, id prefix. */
export async function resolveConversation(messenger: Messenger, ref: string): Promise<ConversationInfo> {
  const all = await listConversations(messenger);
  const byId = all.find((c) => c.id === ref.toLowerCase());
  if (byId) return byId;
  const byName = all.filter((c) => c.name !== "" && c.name === ref);
  if (byName.length === 1) return byName[0]!;
  if (byName.length > 1) throw ambiguous(ref, byName);
  const direct = all.find((c) => c.direct && c.members.includes(ref) && ref !== messenger.username);
  if (direct) return direct;
  if (ref.length >= MIN_PREFIX && /^[0-9a-f]+$/i.test(ref)) {
    const byPrefix = all.filter((c) => c.id.startsWith(ref.toLowerCase()));
    if (byPrefix.length === 1) return byPrefix[0]!;
    if (byPrefix.length > 1) throw ambiguous(ref, byPrefix);
  }
  throw new CliError(ExitCode.NotFound, `no conversation "${ref}" (see \`qpq channels\`)`);
}

function ambiguous(ref: string, matches: ConversationInfo[]): CliError {
  return new CliError(
    ExitCode.Usage,
    `"${ref}" matches several conversations; use an id: ${matches.map((c) => c.id.slice(0, 12)).join(", ")}`,
  );
}
