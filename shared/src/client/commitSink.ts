/**
 * The contract between group-changing code and whatever sends commits. It matches GroupCommits (one
 * commit per epoch through the group channel, adopted only once accepted, rebuilt on CommitConflict);
 * until that lands, DirectCommits sends a commit to every other member's queue, as invites do.
 */
import type { ClientState } from "ts-mls";
import { members } from "../mls/index.ts";
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import { bytesEqual } from "../util/bytes.ts";
import type { ClientSession } from "./session.ts";
import type { GroupRecord } from "./storage.ts";

export interface CommitChange {
  commit: Uint8Array;
  welcome?: Uint8Array;
  newState: ClientState;
  /** Identity keys the commit adds and removes (the delivery service's membership follows them). */
  added: Uint8Array[];
  removed: Uint8Array[];
}

export type BuildCommit = (state: ClientState, record: GroupRecord) => Promise<CommitChange>;

export interface CommitSink {
  commitChange(groupId: string, build: BuildCommit): Promise<CommitChange>;
}

export class DirectCommits implements CommitSink {
  constructor(private readonly session: ClientSession) {}

  async commitChange(groupId: string, build: BuildCommit): Promise<CommitChange> {
    return this.session.exclusive(async () => {
      const current = await this.session.groupState(groupId);
      if (!current) throw new QpqError(ErrorCode.InvalidArgument, "no such conversation");
      const change = await build(current.state, current.record);
      const own = this.session.identity.signaturePublicKey;
      // Everyone in the old tree but us: a removed member learns of its removal from this commit.
      const recipients = members(current.state).filter((m) => !bytesEqual(m.signatureKey, own));
      const { gw } = this.session;
      await Promise.all(recipients.map((m) => gw.enqueue(m.signatureKey, change.commit)));
      const record = this.session.groupRecord(current.record, groupId, change.newState);
      await this.session.store.putGroup(record);
      this.session.emit("conversation", record);
      if (change.welcome) {
        const welcome = change.welcome;
        await Promise.all(change.added.map((key) => gw.enqueue(key, welcome)));
      }
      return change;
    });
  }
}
