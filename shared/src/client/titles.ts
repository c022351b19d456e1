import type { GroupMember } from "../mls/index.ts";

/** Named groups show their name; unnamed ones (direct conversations) the other members' names. */
export function conversationTitle(name: string, members: GroupMember[], me: string): string {
  if (name) return name;
  // One name per person, however many devices (leaves) they have.
  const others = [...new Set(members.map((m) => m.username ?? "?"))].filter((u) => u !== me);
  return others.length > 0 ? others.join(", ") : "Just you";
}
