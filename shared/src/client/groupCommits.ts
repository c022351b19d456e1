/**
 * Every commit this client makes goes through here, because the gateway accepts only one commit per
 * group epoch (RFC 9750): build the commit on the current state, send it through the group channel,
 * and adopt the new state only once the gateway accepted it. When another member's commit won the
 * epoch (CommitConflict), process the queue (the winner's commit is already in it), rebuild the change
 * on the new epoch and try again, a bounded number of times.
 *
 * The change itself is the caller's: adding members today, removals, updates and proposal commits
 * later. The builder may be called several times, each time with a newer state.
 */
import type { ClientState } from "ts-mls";
import { decodeState, deliveryToken, deliveryTokenHash } from "../mls/index.ts";
import { ErrorCode, QpqError } from "../protocol/index.ts";
import { fromHex } from "../util/bytes.ts";
import type { ClientSession } from "./session.ts";
import type { GroupRecord } from "./storage.ts";

export interface CommitChange {
  commit: Uint8Array;
  /** For the members the commit adds; sent to each of them after the commit was accepted. */
  welcome?: Uint8Array;
  newState: ClientState;
  /** Identity keys the commit adds and removes: the gateway's channel membership follows them. */
  added: Uint8Array[];
  removed: Uint8Array[];
}

export interface CommittedChange extends CommitChange {
  /** How many times the change was built: 1 unless other members' commits won epochs first. */
  attempts: number;
}

export type BuildCommit = (state: ClientState, record: GroupRecord) => Promise<CommitChange>;

const DEFAULT_ATTEMPTS = 5;

export class GroupCommits {
  constructor(
    private readonly session: ClientSession,
    /** Processes everything queued for us so far (the Messenger fetches and applies it). */
    private readonly catchUp: () => Promise<void>,
    private readonly maxAttempts = DEFAULT_ATTEMPTS,
  ) {}

  /** Commits the change and returns it as accepted; throws CommitConflict after maxAttempts losses. */
  async commitChange(groupId: string, build: BuildCommit): Promise<CommittedChange> {
    for (let attempt = 1; ; attempt++) {
      // Exclusive while building, sending and adopting: no incoming message may move the state meanwhile.
      const accepted = await this.session.exclusive(() => this.attempt(groupId, build));
      if (accepted) {
        await this.sendWelcome(accepted.record, accepted.change);
        return { ...accepted.change, attempts: attempt };
      }
      if (attempt >= this.maxAttempts) {
        throw new QpqError(
          ErrorCode.CommitConflict,
          `other members' commits won ${attempt} times in a row; try again later`,
        );
      }
      await this.catchUp();
    }
  }

  private async attempt(
    groupId: string,
    build: BuildCommit,
  ): Promise<{ change: CommitChange; record: GroupRecord } | undefined> {
    const current = await this.session.groupState(groupId);
    if (!current) throw new QpqError(ErrorCode.InvalidArgument, "no such conversation");
    // The builder gets its own copy: building a commit zeroes secrets it consumed, and a refused commit
    // must leave the state we keep (and process the winner's commit with) intact.
    const change = await build(decodeState(current.record.state), current.record);
    const { gw, impl } = this.session;
    try {
      if (current.record.channelId) {
        const nextTokenHash = deliveryTokenHash(await deliveryToken(change.newState, impl));
        await gw.enqueueToChannel(fromHex(current.record.channelId), change.commit, {
          addMembers: change.added,
          removeMembers: change.removed,
          nextTokenHash,
        });
      } else {
        // A conversation from before channels: one copy per member, as it was then.
        const others = this.session.otherMembers(current.state);
        await Promise.all(others.map((m) => gw.enqueue(m.signatureKey, change.commit)));
      }
    } catch (error) {
      if (error instanceof QpqError && error.code === ErrorCode.CommitConflict) return undefined;
      throw error;
    }
    const record = this.session.groupRecord(current.record, groupId, change.newState);
    await this.session.store.putGroup(record);
    this.session.emit("conversation", record);
    return { change, record };
  }

  private async sendWelcome(record: GroupRecord, change: CommitChange): Promise<void> {
    if (!change.welcome || change.added.length === 0) return;
    const { gw } = this.session;
    const welcome = change.welcome;
    await Promise.all(
      change.added.map((recipientKey) =>
        record.channelId
          ? gw.enqueueToChannel(fromHex(record.channelId), welcome, { recipientKey })
          : gw.enqueue(recipientKey, welcome),
      ),
    );
  }
}
