/**
 * The conversation list and a conversation's view, built from the device store: the one place that
 * decides what a conversation is called, who is in it, whether it is direct, and whether this device
 * can still take part. The web app and the CLI render these; they build none of it themselves. Works
 * on a bare store too, so history stays readable without the gateway (the web app's offline unlock).
 */
import type { ClientState } from "ts-mls";
import { decodeState, members as groupMembers, wasRemoved } from "../mls/index.ts";
import type { ClientStore, GroupRecord, MessageRecord } from "./storage.ts";
import { conversationTitle } from "./titles.ts";

export interface Conversation {
  /** Hex MLS group id: stable, and what scripts and URLs use. */
  id: string;
  /** The name its creator gave it; "" for a direct conversation (and any unnamed one). */
  name: string;
  /** What to show: the name, or the other members' usernames. */
  title: string;
  /** Members' usernames in leaf order (once each, whatever their devices), this account included. */
  members: string[];
  /** Unnamed, with exactly one other member: a direct conversation (see isDirect). */
  direct: boolean;
  /** Someone removed this device, or it left: history stays readable, nothing new is sent or read. */
  removed: boolean;
  /** This device left on its own (removed is then true as well); only the wording differs. */
  left: boolean;
  epoch: number;
  /** Last activity: the latest message sent or received, or membership change. */
  updatedAtMs: number;
}

/** A conversation with its messages, oldest first, each with its delivery state (MessageRecord.status). */
export interface ConversationView extends Conversation {
  messages: MessageRecord[];
}

/**
 * The one definition of a direct conversation: no name, and exactly one member besides us. A direct
 * conversation that gains a third member turns into an (unnamed) group; one whose peer is gone is
 * no longer direct either.
 */
export function isDirect(name: string, memberNames: string[], me: string): boolean {
  return name === "" && memberNames.filter((n) => n !== me).length === 1;
}

/** Newest activity first. */
export function byActivity(a: Conversation, b: Conversation): number {
  return b.updatedAtMs - a.updatedAtMs;
}

export class Conversations {
  constructor(
    private readonly store: ClientStore,
    /** This account's username (canonical). */
    private readonly me: string,
    /** The decoded group state of a record (the messenger passes its cache). */
    private readonly stateOf: (record: GroupRecord) => ClientState | Promise<ClientState> = (r) =>
      decodeState(r.state),
  ) {}

  /** Every conversation on this device, most recently active first. */
  async list(): Promise<Conversation[]> {
    const all = await Promise.all((await this.store.listGroups()).map((g) => this.describe(g)));
    return all.sort(byActivity);
  }

  async get(id: string): Promise<Conversation | undefined> {
    const record = await this.store.getGroup(id);
    return record && this.describe(record);
  }

  async view(id: string): Promise<ConversationView | undefined> {
    const conversation = await this.get(id);
    if (!conversation) return undefined;
    return { ...conversation, messages: await this.store.listMessages(id) };
  }

  /**
   * The direct conversation with a user this device still takes part in (the most recently active if
   * there are several); one we left or were removed from does not count, so a new one can start.
   */
  async findDirect(username: string): Promise<Conversation | undefined> {
    if (username === this.me) return undefined;
    return (await this.list()).find((c) => c.direct && !c.removed && c.members.includes(username));
  }

  async describe(record: GroupRecord): Promise<Conversation> {
    const state = await this.stateOf(record);
    const memberList = groupMembers(state);
    // One entry per person: each of their devices is a leaf of its own.
    const names = [...new Set(memberList.map((m) => m.username ?? "?"))];
    const left = record.leftAtMs !== undefined;
    return {
      id: record.id,
      name: record.name,
      title: conversationTitle(record.name, memberList, this.me),
      members: names,
      direct: isDirect(record.name, names, this.me),
      removed: left || wasRemoved(state),
      left,
      epoch: record.epoch,
      updatedAtMs: record.updatedAtMs,
    };
  }
}
