/**
 * Naming conversations on the command line. People type a group's name or the other person's
 * username; scripts use the id that `dm`, `group create` and `channels` print. What a conversation
 * is (its title, members, whether it is direct) comes from the core's conversation list.
 */
import { canonicalUsername, type Conversation, type Messenger } from "@qpq/shared/client";
import { CliError, ExitCode } from "./exitCodes.ts";

const MIN_PREFIX = 6;

/** Resolves what the user typed: exact id, group name, direct conversation's username, id prefix. */
export async function resolveConversation(messenger: Messenger, ref: string): Promise<Conversation> {
  const all = await messenger.listConversations();
  const byId = all.find((c) => c.id === ref.toLowerCase());
  if (byId) return byId;
  const byName = all.filter((c) => c.name !== "" && c.name === ref);
  if (byName.length === 1) return byName[0]!;
  if (byName.length > 1) throw ambiguous(ref, byName);
  const direct = await directWith(messenger, all, ref);
  if (direct) return direct;
  if (ref.length >= MIN_PREFIX && /^[0-9a-f]+$/i.test(ref)) {
    const byPrefix = all.filter((c) => c.id.startsWith(ref.toLowerCase()));
    if (byPrefix.length === 1) return byPrefix[0]!;
    if (byPrefix.length > 1) throw ambiguous(ref, byPrefix);
  }
  throw new CliError(ExitCode.NotFound, `no conversation "${ref}" (see \`qpq channels\`)`);
}

/**
 * The direct conversation named by a username: the live one, else one we were removed from or left
 * (so that sending there explains why it cannot be done instead of "no conversation").
 */
async function directWith(
  messenger: Messenger,
  all: Conversation[],
  ref: string,
): Promise<Conversation | undefined> {
  let username: string;
  try {
    username = canonicalUsername(ref);
  } catch {
    return undefined;
  }
  return (
    (await messenger.findDirect(username)) ??
    all.find((c) => c.direct && c.members.includes(username) && username !== messenger.username)
  );
}

function ambiguous(ref: string, matches: Conversation[]): CliError {
  return new CliError(
    ExitCode.Usage,
    `"${ref}" matches several conversations; use an id: ${matches.map((c) => c.id.slice(0, 12)).join(", ")}`,
  );
}
