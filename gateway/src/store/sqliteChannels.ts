/**
 * The channel half of SqliteStore: channels (each following one MLS group), their members and
 * delivery-token hashes, and one commit per epoch. Kept apart from the queue code; SqliteStore delegates to it and hands in
 * its enqueue transaction so an accepted commit's rows are written in the same transaction.
 */
import type Database from "better-sqlite3";
import type { Statement } from "better-sqlite3";
import { compareBytes, TOKEN_EPOCHS_KEPT } from "./channelRules.ts";
import type { ChannelCommit, ChannelRecord, CommitOutcome, NewEnvelope, NewChannel } from "./types.ts";

interface ChannelRow {
  channel_id: Buffer;
  group_id: Buffer;
  epoch: number;
  last_commit_hash: Buffer;
  created_at_ms: number;
}

const EMPTY = new Uint8Array(0);

function bytes(b: Buffer): Uint8Array {
  return new Uint8Array(b);
}

function prepare(db: Database.Database) {
  const s = <R = unknown>(sql: string) => db.prepare<unknown[], R>(sql);
  return {
    insertChannel: s(
      "INSERT INTO channels (channel_id, kind, pair_low, pair_high, group_id, epoch, last_commit_hash, " +
        "created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    getChannel: s<ChannelRow>(
      "SELECT channel_id, group_id, epoch, last_commit_hash, created_at_ms FROM channels " +
        "WHERE channel_id = ?",
    ),
    groupChannel: s<{ one: number }>("SELECT 1 AS one FROM channels WHERE kind = 'group' AND group_id = ?"),
    addMember: s(
      "INSERT INTO channel_members (channel_id, identity_key) VALUES (?, ?) ON CONFLICT DO NOTHING",
    ),
    removeMember: s("DELETE FROM channel_members WHERE channel_id = ? AND identity_key = ?"),
    members: s<{ identity_key: Buffer }>("SELECT identity_key FROM channel_members WHERE channel_id = ?"),
    isMember: s<{ one: number }>(
      "SELECT 1 AS one FROM channel_members WHERE channel_id = ? AND identity_key = ?",
    ),
    channelsOf: s<{ channel_id: Buffer }>(
      "SELECT channel_id FROM channel_members WHERE identity_key = ? ORDER BY channel_id",
    ),
    setToken: s(
      "INSERT INTO channel_tokens (channel_id, epoch, token_hash) VALUES (?, ?, ?) " +
        "ON CONFLICT (channel_id, epoch) DO UPDATE SET token_hash = excluded.token_hash",
    ),
    getToken: s<{ token_hash: Buffer }>(
      "SELECT token_hash FROM channel_tokens WHERE channel_id = ? AND epoch = ?",
    ),
    pruneTokens: s("DELETE FROM channel_tokens WHERE channel_id = ? AND epoch < ?"),
    advanceChannel: s("UPDATE channels SET epoch = ?, last_commit_hash = ? WHERE channel_id = ?"),
  } satisfies Record<string, Statement<unknown[], unknown>>;
}

export class SqliteChannels {
  private readonly q: ReturnType<typeof prepare>;
  readonly createGroup: (channel: NewChannel) => boolean;
  readonly acceptCommit: (commit: ChannelCommit) => CommitOutcome;

  constructor(db: Database.Database, enqueueTx: (envelopes: NewEnvelope[]) => number[]) {
    const q = prepare(db);
    this.q = q;

    this.createGroup = db.transaction((c: NewChannel) => {
      const taken =
        q.groupChannel.get(c.groupId) !== undefined || q.getChannel.get(c.channelId) !== undefined;
      if (taken) return false;
      q.insertChannel.run(c.channelId, "group", null, null, c.groupId, c.epoch, EMPTY, c.createdAtMs);
      for (const member of c.members) q.addMember.run(c.channelId, member);
      if (c.tokenHash.length > 0) q.setToken.run(c.channelId, c.epoch, c.tokenHash);
      return true;
    });

    this.acceptCommit = db.transaction((c: ChannelCommit): CommitOutcome => {
      const row = q.getChannel.get(c.channelId) as ChannelRow | undefined;
      if (row === undefined) return { status: "conflict", epoch: -1 };
      if (c.epoch === row.epoch - 1 && compareBytes(row.last_commit_hash, c.commitHash) === 0) {
        return { status: "duplicate" };
      }
      if (c.epoch !== row.epoch) return { status: "conflict", epoch: row.epoch };
      const seqs = enqueueTx(c.envelopes);
      for (const key of c.remove) q.removeMember.run(c.channelId, key);
      for (const key of c.add) q.addMember.run(c.channelId, key);
      const next = c.epoch + 1;
      q.advanceChannel.run(next, c.commitHash, c.channelId);
      if (c.nextTokenHash.length > 0) q.setToken.run(c.channelId, next, c.nextTokenHash);
      q.pruneTokens.run(c.channelId, next - TOKEN_EPOCHS_KEPT + 1);
      return { status: "accepted", seqs };
    });
  }

  get(channelId: Uint8Array): ChannelRecord | undefined {
    const row = this.q.getChannel.get(channelId) as ChannelRow | undefined;
    if (row === undefined) return undefined;
    return {
      channelId: bytes(row.channel_id),
      groupId: bytes(row.group_id),
      epoch: row.epoch,
      lastCommitHash: bytes(row.last_commit_hash),
      createdAtMs: row.created_at_ms,
    };
  }

  members(channelId: Uint8Array): Uint8Array[] {
    return (this.q.members.all(channelId) as { identity_key: Buffer }[]).map((r) => bytes(r.identity_key));
  }

  isMember(channelId: Uint8Array, identityKey: Uint8Array): boolean {
    return this.q.isMember.get(channelId, identityKey) !== undefined;
  }

  of(identityKey: Uint8Array): Uint8Array[] {
    return (this.q.channelsOf.all(identityKey) as { channel_id: Buffer }[]).map((r) => bytes(r.channel_id));
  }

  tokenHash(channelId: Uint8Array, epoch: number): Uint8Array | undefined {
    const row = this.q.getToken.get(channelId, epoch) as { token_hash: Buffer } | undefined;
    return row === undefined ? undefined : bytes(row.token_hash);
  }
}
