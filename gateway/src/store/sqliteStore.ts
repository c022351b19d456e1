/**
 * The default Store: one SQLite file in WAL mode via better-sqlite3 (synchronous, so every method runs
 * to completion within one event-loop turn and calls never interleave inside this process).
 */
import Database from "better-sqlite3";
import type { Statement } from "better-sqlite3";
import { chmodSync, closeSync, existsSync, openSync } from "node:fs";
import { migrate } from "./migrations.ts";
import { SqliteChannels } from "./sqliteChannels.ts";
import { SqliteDevices } from "./sqliteDevices.ts";
import type {
  ChannelCommit,
  ChannelRecord,
  HybridKeyRecord,
  ClaimedKeyPackage,
  CommitOutcome,
  EnvelopePage,
  NewEnvelope,
  NewChannel,
  PageLimits,
  SessionRecord,
  Store,
  StoredEnvelope,
  UserRecord,
} from "./types.ts";
import { envelopeBytes } from "../delivery/frameBudget.ts";

export interface SqliteStoreOptions {
  /** File path, or ":memory:" for a private in-memory database. */
  path: string;
  /**
   * "full" (default): a resolved enqueue survives power loss. "normal": it survives a process crash
   * but the last commits may be lost on power loss; faster.
   */
  synchronous?: "full" | "normal";
  /** How long to wait for a lock held by another connection. Default 5000. */
  busyTimeoutMs?: number;
}

interface UserRow {
  username: string;
  identity_key: Buffer;
  opaque_record: string;
  created_at_ms: number;
}

interface SessionRow {
  token_hash: Buffer;
  username: string;
  identity_key: Buffer;
  device_key: Buffer;
  created_at_ms: number;
  expires_at_ms: number;
}

interface EnvelopeRow {
  seq: number;
  channel_id: Buffer;
  payload: Buffer;
  enqueued_at_ms: number;
}

const EMPTY = new Uint8Array(0);

/** A plain Uint8Array copy, so no Buffer (with its different slice semantics) escapes the store. */
function bytes(b: Buffer): Uint8Array {
  return new Uint8Array(b);
}

function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`invalid fetch limit: ${limit}`);
}

function checkPage(page: PageLimits): void {
  if (!Number.isSafeInteger(page.limit) || page.limit < 1) {
    throw new RangeError(`invalid page limit: ${page.limit}`);
  }
  if (!(page.maxBytes >= 0)) throw new RangeError(`invalid page byte budget: ${page.maxBytes}`);
}

function isFilePath(path: string): boolean {
  return path !== ":memory:" && path !== "" && !path.startsWith("file:");
}

/** Creates the database file owner-only before SQLite opens it; SQLite gives -wal/-shm the same mode. */
function createPrivateFile(path: string): void {
  closeSync(openSync(path, "a", 0o600));
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(p)) chmodSync(p, 0o600);
  }
}

interface SizeRow {
  seq: number;
  channel_bytes: number;
  payload_bytes: number;
}

/** An envelope's payload is inline, or shared in payloads when a fan-out stored it once. */
const ENVELOPE_COLUMNS =
  "q.seq AS seq, q.channel_id AS channel_id, coalesce(p.payload, q.payload) AS payload, " +
  "q.enqueued_at_ms AS enqueued_at_ms";

function prepareStatements(db: Database.Database) {
  const s = <R = unknown>(sql: string) => db.prepare<unknown[], R>(sql);
  return {
    getSetting: s<{ value: string }>("SELECT value FROM settings WHERE key = ?"),
    initSetting: s("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING"),

    // A device key is public: as someone's identity key it would name that device's queue.
    createUser: s(
      "INSERT INTO users (username, identity_key, opaque_record, created_at_ms) " +
        "SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM devices WHERE device_key = ?) " +
        "ON CONFLICT DO NOTHING",
    ),
    userByName: s<UserRow>("SELECT * FROM users WHERE username = ?"),
    userByIdentity: s<UserRow>("SELECT * FROM users WHERE identity_key = ?"),

    createSession: s(
      "INSERT INTO sessions (token_hash, username, identity_key, device_key, created_at_ms, expires_at_ms) " +
        "VALUES (?, ?, ?, ?, ?, ?)",
    ),
    setSessionDevice: s("UPDATE sessions SET device_key = ? WHERE token_hash = ?"),
    keyOwnerExists: s<{ one: number }>(
      "SELECT 1 AS one FROM users WHERE identity_key = ? UNION ALL " +
        "SELECT 1 FROM devices WHERE device_key = ? LIMIT 1",
    ),
    getSession: s<SessionRow>("SELECT * FROM sessions WHERE token_hash = ? AND expires_at_ms > ?"),
    deleteSession: s("DELETE FROM sessions WHERE token_hash = ?"),
    countSessions: s<{ n: number }>(
      "SELECT count(*) AS n FROM sessions WHERE username = ? AND expires_at_ms > ?",
    ),
    deleteExpiredSessions: s("DELETE FROM sessions WHERE expires_at_ms <= ?"),
    sessionsBeyond: s<{ token_hash: Buffer }>(
      "SELECT token_hash FROM sessions WHERE username = ? AND expires_at_ms > ? " +
        "ORDER BY created_at_ms DESC, token_hash DESC LIMIT -1 OFFSET ?",
    ),

    addKeyPackage: s("INSERT INTO key_packages (identity_key, key_package) VALUES (?, ?)"),
    setLastResort: s(
      "INSERT INTO last_resort_key_packages (identity_key, key_package) VALUES (?, ?) " +
        "ON CONFLICT (identity_key) DO UPDATE SET key_package = excluded.key_package",
    ),
    claimKeyPackage: s<{ key_package: Buffer }>(
      "DELETE FROM key_packages WHERE id = " +
        "(SELECT id FROM key_packages WHERE identity_key = ? ORDER BY id LIMIT 1) RETURNING key_package",
    ),
    getLastResort: s<{ key_package: Buffer }>(
      "SELECT key_package FROM last_resort_key_packages WHERE identity_key = ?",
    ),
    countKeyPackages: s<{ n: number }>("SELECT count(*) AS n FROM key_packages WHERE identity_key = ?"),

    headSeq: s<{ last_seq: number }>("SELECT last_seq FROM queue_heads WHERE recipient_key = ?"),
    setHeadSeq: s(
      "INSERT INTO queue_heads (recipient_key, last_seq) VALUES (?, ?) " +
        "ON CONFLICT (recipient_key) DO UPDATE SET last_seq = excluded.last_seq",
    ),
    insertEnvelope: s(
      "INSERT INTO queue (recipient_key, seq, channel_id, payload, enqueued_at_ms, payload_id) " +
        "VALUES (?, ?, ?, ?, ?, ?)",
    ),
    insertPayload: s("INSERT INTO payloads (payload) VALUES (?)"),
    deleteOrphanPayload: s(
      "DELETE FROM payloads WHERE id = ? AND NOT EXISTS (SELECT 1 FROM queue WHERE payload_id = ?)",
    ),
    fetch: s<EnvelopeRow>(
      `SELECT ${ENVELOPE_COLUMNS} FROM queue q LEFT JOIN payloads p ON p.id = q.payload_id ` +
        "WHERE q.recipient_key = ? AND q.seq > ? ORDER BY q.seq LIMIT ?",
    ),
    fetchChannel: s<EnvelopeRow>(
      `SELECT ${ENVELOPE_COLUMNS} FROM queue q LEFT JOIN payloads p ON p.id = q.payload_id ` +
        "WHERE q.recipient_key = ? AND q.channel_id = ? AND q.seq > ? ORDER BY q.seq LIMIT ?",
    ),
    // length() of a column reads the blob's size from the record header, not the blob itself: a page
    // is cut by size before any payload past the cut is loaded.
    fetchSizes: s<SizeRow>(
      "SELECT q.seq AS seq, length(q.channel_id) AS channel_bytes, " +
        "coalesce(length(p.payload), length(q.payload)) AS payload_bytes " +
        "FROM queue q LEFT JOIN payloads p ON p.id = q.payload_id " +
        "WHERE q.recipient_key = ? AND q.seq > ? ORDER BY q.seq LIMIT ?",
    ),
    fetchChannelSizes: s<SizeRow>(
      "SELECT q.seq AS seq, length(q.channel_id) AS channel_bytes, " +
        "coalesce(length(p.payload), length(q.payload)) AS payload_bytes " +
        "FROM queue q LEFT JOIN payloads p ON p.id = q.payload_id " +
        "WHERE q.recipient_key = ? AND q.channel_id = ? AND q.seq > ? ORDER BY q.seq LIMIT ?",
    ),
    ack: s<{ payload_id: number | null }>(
      "DELETE FROM queue WHERE recipient_key = ? AND seq <= ? RETURNING payload_id",
    ),

    queueDepth: s<{ n: number }>("SELECT count(*) AS n FROM queue WHERE recipient_key = ?"),
    setHybridKey: s(
      "INSERT INTO hybrid_keys (identity_key, public_key, signature) VALUES (?, ?, ?) " +
        "ON CONFLICT (identity_key) DO UPDATE SET public_key = excluded.public_key, signature = excluded.signature",
    ),
    getHybridKey: s<{ public_key: Buffer; signature: Buffer }>(
      "SELECT public_key, signature FROM hybrid_keys WHERE identity_key = ?",
    ),
  } satisfies Record<string, Statement<unknown[], unknown>>;
}

export class SqliteStore extends SqliteDevices implements Store {
  private readonly q: ReturnType<typeof prepareStatements>;
  private readonly initSettingTx: (key: string, value: string) => string;
  private readonly addKeyPackagesTx: (id: Uint8Array, kps: Uint8Array[], lastResort?: Uint8Array) => number;
  private readonly claimKeyPackageTx: (id: Uint8Array) => ClaimedKeyPackage | undefined;
  private readonly enqueueTx: (envelopes: NewEnvelope[]) => number[];
  private readonly ackTx: (recipientKey: Uint8Array, upToSeq: number) => number;
  private readonly trimSessionsTx: (username: string, keep: number, nowMs: number) => Uint8Array[];
  private readonly channels: SqliteChannels;

  private constructor(private readonly db: Database.Database) {
    super(db);
    const q = prepareStatements(db);
    this.q = q;

    this.initSettingTx = db.transaction((key: string, value: string) => {
      q.initSetting.run(key, value);
      const row = q.getSetting.get(key) as { value: string } | undefined;
      if (row === undefined) throw new Error(`setting ${key} vanished`);
      return row.value;
    });

    this.addKeyPackagesTx = db.transaction((id: Uint8Array, kps: Uint8Array[], lastResort?: Uint8Array) => {
      if (!q.keyOwnerExists.get(id, id)) {
        throw new Error("cannot add KeyPackages for a key that is neither a user's nor a device's");
      }
      for (const kp of kps) q.addKeyPackage.run(id, kp);
      if (lastResort !== undefined) q.setLastResort.run(id, lastResort);
      return (q.countKeyPackages.get(id) as { n: number }).n;
    });

    this.claimKeyPackageTx = db.transaction((id: Uint8Array): ClaimedKeyPackage | undefined => {
      const single = q.claimKeyPackage.get(id) as { key_package: Buffer } | undefined;
      if (single !== undefined) return { keyPackage: bytes(single.key_package), lastResort: false };
      const last = q.getLastResort.get(id) as { key_package: Buffer } | undefined;
      if (last !== undefined) return { keyPackage: bytes(last.key_package), lastResort: true };
      return undefined;
    });

    this.trimSessionsTx = db.transaction((username: string, keep: number, nowMs: number) => {
      const rows = q.sessionsBeyond.all(username, nowMs, keep) as { token_hash: Buffer }[];
      for (const row of rows) q.deleteSession.run(row.token_hash);
      return rows.map((row) => bytes(row.token_hash));
    });
    this.enqueueTx = db.transaction((envelopes: NewEnvelope[]): number[] => {
      // Heads touched in this batch, keyed by recipient hex; written back once per recipient.
      const heads = new Map<string, { key: Uint8Array; seq: number }>();
      // A payload object given for several envelopes (a fan-out) is stored once, by identity.
      const uses = new Map<Uint8Array, number>();
      for (const e of envelopes) uses.set(e.payload, (uses.get(e.payload) ?? 0) + 1);
      const shared = new Map<Uint8Array, number>();
      const seqs = envelopes.map((e) => {
        const hex = Buffer.from(
          e.recipientKey.buffer,
          e.recipientKey.byteOffset,
          e.recipientKey.byteLength,
        ).toString("hex");
        let head = heads.get(hex);
        if (head === undefined) {
          const row = q.headSeq.get(e.recipientKey) as { last_seq: number } | undefined;
          head = { key: e.recipientKey, seq: row?.last_seq ?? 0 };
          heads.set(hex, head);
        }
        head.seq += 1;
        if ((uses.get(e.payload) ?? 0) > 1) {
          let id = shared.get(e.payload);
          if (id === undefined) {
            id = Number(q.insertPayload.run(e.payload).lastInsertRowid);
            shared.set(e.payload, id);
          }
          q.insertEnvelope.run(e.recipientKey, head.seq, e.channelId, EMPTY, e.enqueuedAtMs, id);
        } else {
          q.insertEnvelope.run(e.recipientKey, head.seq, e.channelId, e.payload, e.enqueuedAtMs, null);
        }
        return head.seq;
      });
      for (const head of heads.values()) q.setHeadSeq.run(head.key, head.seq);
      return seqs;
    });

    this.ackTx = db.transaction((recipientKey: Uint8Array, upToSeq: number): number => {
      const removed = q.ack.all(recipientKey, upToSeq) as { payload_id: number | null }[];
      const payloadIds = new Set<number>();
      for (const row of removed) if (row.payload_id !== null) payloadIds.add(row.payload_id);
      for (const id of payloadIds) q.deleteOrphanPayload.run(id, id);
      return removed.length;
    });

    this.channels = new SqliteChannels(db, this.enqueueTx);
  }

  /** Opens (creating if needed) and migrates the database. Throws SchemaTooNewError for a newer schema. */
  static open(options: SqliteStoreOptions): SqliteStore {
    const { path, synchronous = "full", busyTimeoutMs = 5000 } = options;
    if (isFilePath(path)) createPrivateFile(path);
    const db = new Database(path);
    try {
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${synchronous === "normal" ? "NORMAL" : "FULL"}`);
      db.pragma("foreign_keys = ON");
      migrate(db);
      return new SqliteStore(db);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  async getSetting(key: string): Promise<string | undefined> {
    return (this.q.getSetting.get(key) as { value: string } | undefined)?.value;
  }

  async initSetting(key: string, value: string): Promise<string> {
    return this.initSettingTx(key, value);
  }

  async createUser(user: UserRecord): Promise<boolean> {
    const r = this.q.createUser.run(
      user.username,
      user.identityKey,
      user.opaqueRecord,
      user.createdAtMs,
      user.identityKey,
    );
    return r.changes === 1;
  }

  async getUserByName(username: string): Promise<UserRecord | undefined> {
    return toUser(this.q.userByName.get(username) as UserRow | undefined);
  }

  async getUserByIdentity(identityKey: Uint8Array): Promise<UserRecord | undefined> {
    return toUser(this.q.userByIdentity.get(identityKey) as UserRow | undefined);
  }

  async createSession(s: SessionRecord): Promise<void> {
    this.q.createSession.run(
      s.tokenHash,
      s.username,
      s.identityKey,
      s.deviceKey,
      s.createdAtMs,
      s.expiresAtMs,
    );
  }

  async setSessionDevice(tokenHash: Uint8Array, deviceKey: Uint8Array): Promise<boolean> {
    return this.q.setSessionDevice.run(deviceKey, tokenHash).changes === 1;
  }

  async getSession(tokenHash: Uint8Array, nowMs: number): Promise<SessionRecord | undefined> {
    const row = this.q.getSession.get(tokenHash, nowMs) as SessionRow | undefined;
    if (row === undefined) return undefined;
    return {
      tokenHash: bytes(row.token_hash),
      username: row.username,
      identityKey: bytes(row.identity_key),
      deviceKey: bytes(row.device_key),
      createdAtMs: row.created_at_ms,
      expiresAtMs: row.expires_at_ms,
    };
  }

  async deleteSession(tokenHash: Uint8Array): Promise<void> {
    this.q.deleteSession.run(tokenHash);
  }

  async countSessions(username: string, nowMs: number): Promise<number> {
    return (this.q.countSessions.get(username, nowMs) as { n: number }).n;
  }

  async deleteExpiredSessions(nowMs: number): Promise<number> {
    return this.q.deleteExpiredSessions.run(nowMs).changes;
  }

  async trimSessions(username: string, keep: number, nowMs: number): Promise<Uint8Array[]> {
    return this.trimSessionsTx(username, keep, nowMs);
  }

  async setHybridKey(identityKey: Uint8Array, key: HybridKeyRecord): Promise<void> {
    this.q.setHybridKey.run(identityKey, key.publicKey, key.signature);
  }

  async getHybridKey(identityKey: Uint8Array): Promise<HybridKeyRecord | undefined> {
    const row = this.q.getHybridKey.get(identityKey) as { public_key: Buffer; signature: Buffer } | undefined;
    return row === undefined
      ? undefined
      : { publicKey: bytes(row.public_key), signature: bytes(row.signature) };
  }

  async addKeyPackages(
    identityKey: Uint8Array,
    keyPackages: Uint8Array[],
    lastResort?: Uint8Array,
  ): Promise<number> {
    return this.addKeyPackagesTx(identityKey, keyPackages, lastResort);
  }

  async claimKeyPackage(identityKey: Uint8Array): Promise<ClaimedKeyPackage | undefined> {
    return this.claimKeyPackageTx(identityKey);
  }

  async countKeyPackages(identityKey: Uint8Array): Promise<number> {
    return (this.q.countKeyPackages.get(identityKey) as { n: number }).n;
  }

  async enqueue(envelopes: NewEnvelope[]): Promise<number[]> {
    if (envelopes.length === 0) return [];
    return this.enqueueTx(envelopes);
  }

  async fetch(
    recipientKey: Uint8Array,
    afterSeq: number,
    limit: number,
    channelId?: Uint8Array,
  ): Promise<StoredEnvelope[]> {
    checkLimit(limit);
    if (limit === 0) return [];
    const rows = (
      channelId === undefined
        ? this.q.fetch.all(recipientKey, afterSeq, limit)
        : this.q.fetchChannel.all(recipientKey, channelId, afterSeq, limit)
    ) as EnvelopeRow[];
    return rows.map((r) => ({
      seq: r.seq,
      channelId: bytes(r.channel_id),
      payload: bytes(r.payload),
      enqueuedAtMs: r.enqueued_at_ms,
    }));
  }

  async fetchPage(recipientKey: Uint8Array, afterSeq: number, page: PageLimits): Promise<EnvelopePage> {
    checkPage(page);
    const { channelId } = page;
    // One row past the limit tells whether more wait. Iterated, so that reading stops at the first
    // row over the budget.
    const sizes = (
      channelId === undefined
        ? this.q.fetchSizes.iterate(recipientKey, afterSeq, page.limit + 1)
        : this.q.fetchChannelSizes.iterate(recipientKey, channelId, afterSeq, page.limit + 1)
    ) as IterableIterator<SizeRow>;
    let count = 0;
    let used = 0;
    let more = false;
    for (const row of sizes) {
      used += envelopeBytes(row.channel_bytes, row.payload_bytes);
      if (count === page.limit || (count > 0 && used > page.maxBytes)) {
        more = true;
        break;
      }
      count++;
    }
    // The same query cut at the same row: better-sqlite3 is synchronous, so nothing was written in
    // between.
    const envelopes = await this.fetch(recipientKey, afterSeq, count, channelId);
    return { envelopes, more };
  }

  async ack(recipientKey: Uint8Array, upToSeq: number): Promise<number> {
    return this.ackTx(recipientKey, upToSeq);
  }

  async queueDepth(recipientKey: Uint8Array): Promise<number> {
    return (this.q.queueDepth.get(recipientKey) as { n: number }).n;
  }

  async headSeq(recipientKey: Uint8Array): Promise<number> {
    return (this.q.headSeq.get(recipientKey) as { last_seq: number } | undefined)?.last_seq ?? 0;
  }

  async createChannel(channel: NewChannel): Promise<boolean> {
    return this.channels.createGroup(channel);
  }

  async getChannel(channelId: Uint8Array): Promise<ChannelRecord | undefined> {
    return this.channels.get(channelId);
  }

  async getChannelMembers(channelId: Uint8Array): Promise<Uint8Array[]> {
    return this.channels.members(channelId);
  }

  async isChannelMember(channelId: Uint8Array, identityKey: Uint8Array): Promise<boolean> {
    return this.channels.isMember(channelId, identityKey);
  }

  async listChannels(identityKey: Uint8Array): Promise<Uint8Array[]> {
    return this.channels.of(identityKey);
  }

  async getTokenHash(channelId: Uint8Array, epoch: number): Promise<Uint8Array | undefined> {
    return this.channels.tokenHash(channelId, epoch);
  }

  async acceptCommit(commit: ChannelCommit): Promise<CommitOutcome> {
    return this.channels.acceptCommit(commit);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function toUser(row: UserRow | undefined): UserRecord | undefined {
  if (row === undefined) return undefined;
  return {
    username: row.username,
    identityKey: bytes(row.identity_key),
    opaqueRecord: row.opaque_record,
    createdAtMs: row.created_at_ms,
  };
}
