/**
 * Versioned schema migrations for the SQLite store.
 *
 * Each migration runs in its own IMMEDIATE transaction together with the row that records it in
 * schema_migrations and the PRAGMA user_version bump, so a crash leaves the schema either before or
 * after a migration, never half-way. To change the schema, append `{ version: N + 1, ... }` to
 * `migrations`; never edit a migration that has shipped.
 */
import type { Database } from "better-sqlite3";

export interface Migration {
  /** 1, 2, 3, ... without gaps, in array order. */
  readonly version: number;
  readonly name: string;
  /** Runs inside the migration's transaction; must be synchronous. */
  up(db: Database): void;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: "initial schema",
    up(db) {
      db.exec(`
        CREATE TABLE settings (
          key   TEXT PRIMARY KEY,
          value TEXT NOT NULL
        ) STRICT;

        CREATE TABLE users (
          username      TEXT PRIMARY KEY,
          identity_key  BLOB NOT NULL UNIQUE,
          opaque_record TEXT NOT NULL,
          created_at_ms INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE sessions (
          token_hash    BLOB PRIMARY KEY,
          username      TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
          identity_key  BLOB NOT NULL,
          created_at_ms INTEGER NOT NULL,
          expires_at_ms INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX sessions_by_user ON sessions (username, expires_at_ms);
        CREATE INDEX sessions_by_expiry ON sessions (expires_at_ms);

        -- Single-use KeyPackages; the rowid gives the upload order (oldest first).
        CREATE TABLE key_packages (
          id           INTEGER PRIMARY KEY,
          identity_key BLOB NOT NULL REFERENCES users (identity_key) ON DELETE CASCADE,
          key_package  BLOB NOT NULL
        ) STRICT;
        CREATE INDEX key_packages_by_identity ON key_packages (identity_key, id);

        CREATE TABLE last_resort_key_packages (
          identity_key BLOB PRIMARY KEY REFERENCES users (identity_key) ON DELETE CASCADE,
          key_package  BLOB NOT NULL
        ) STRICT;

        -- Last sequence number handed out per recipient. Kept apart from the queue so that seqs are
        -- never reused after acks empty the queue, and per recipient so that a seq reveals nothing
        -- about anyone else's traffic.
        CREATE TABLE queue_heads (
          recipient_key BLOB PRIMARY KEY,
          last_seq      INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;

        -- No foreign key to users: one bad envelope must not fail a whole group commit.
        CREATE TABLE queue (
          recipient_key  BLOB NOT NULL,
          seq            INTEGER NOT NULL,
          channel_id     BLOB NOT NULL,
          payload        BLOB NOT NULL,
          enqueued_at_ms INTEGER NOT NULL,
          PRIMARY KEY (recipient_key, seq)
        ) STRICT;
      `);
    },
  },
  {
    version: 2,
    name: "channels",
    up(db) {
      db.exec(`
        -- Direct channels keep their pair sorted (pair_low < pair_high), so the pair is unique whichever
        -- side created it. Group channels have no pair (NULLs never collide in a UNIQUE constraint).
        CREATE TABLE channels (
          channel_id       BLOB PRIMARY KEY,
          kind             TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
          pair_low         BLOB,
          pair_high        BLOB,
          group_id         BLOB NOT NULL,
          epoch            INTEGER NOT NULL,
          last_commit_hash BLOB NOT NULL,
          created_at_ms    INTEGER NOT NULL,
          UNIQUE (pair_low, pair_high)
        ) STRICT;

        -- One group channel per MLS group, so nobody can open a second channel "for" someone's group.
        CREATE UNIQUE INDEX channels_by_group ON channels (group_id) WHERE kind = 'group';

        CREATE TABLE channel_members (
          channel_id   BLOB NOT NULL REFERENCES channels (channel_id) ON DELETE CASCADE,
          identity_key BLOB NOT NULL,
          PRIMARY KEY (channel_id, identity_key)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX channel_members_by_identity ON channel_members (identity_key);

        -- SHA-256 of each recent epoch's delivery token (sealed sender); the token itself never.
        CREATE TABLE channel_tokens (
          channel_id BLOB NOT NULL REFERENCES channels (channel_id) ON DELETE CASCADE,
          epoch      INTEGER NOT NULL,
          token_hash BLOB NOT NULL,
          PRIMARY KEY (channel_id, epoch)
        ) STRICT, WITHOUT ROWID;

        CREATE INDEX queue_by_channel ON queue (recipient_key, channel_id, seq);
      `);
    },
  },
  {
    version: 3,
    name: "shared payloads",
    up(db) {
      db.exec(`
        -- A group message fanned out to many members is stored once: its queue rows point here (and
        -- keep an empty inline payload). A payload row goes with the last row pointing at it.
        CREATE TABLE payloads (
          id      INTEGER PRIMARY KEY,
          payload BLOB NOT NULL
        ) STRICT;
        ALTER TABLE queue ADD COLUMN payload_id INTEGER;
        CREATE INDEX queue_by_payload ON queue (payload_id) WHERE payload_id IS NOT NULL;
      `);
    },
  },
  {
    version: 4,
    name: "hybrid public keys",
    up(db) {
      db.exec(`
        -- One published X-Wing public key per user, signed by the user's identity key.
        CREATE TABLE hybrid_keys (
          identity_key BLOB PRIMARY KEY REFERENCES users (identity_key) ON DELETE CASCADE,
          public_key   BLOB NOT NULL,
          signature    BLOB NOT NULL
        ) STRICT;
      `);
    },
  },
  {
    version: 5,
    name: "channels only",
    up(db) {
      // Protocol 2 delivers only through group channels: direct channels and deliveries without a
      // channel have no reader left. The kind and pair columns stay (SQLite cannot drop a column of a
      // UNIQUE constraint); every new row is a group channel.
      db.exec(`
        DELETE FROM channel_members WHERE channel_id IN (SELECT channel_id FROM channels WHERE kind = 'direct');
        DELETE FROM channel_tokens WHERE channel_id IN (SELECT channel_id FROM channels WHERE kind = 'direct');
        DELETE FROM channels WHERE kind = 'direct';
        DELETE FROM queue WHERE channel_id NOT IN (SELECT channel_id FROM channels);
        DELETE FROM payloads WHERE id NOT IN (SELECT payload_id FROM queue WHERE payload_id IS NOT NULL);
      `);
    },
  },
  {
    version: 6,
    name: "devices, account bundles and backups",
    up(db) {
      // KeyPackages become per device: their owner key may now be a device key, which is no user's
      // identity key, so the foreign keys to users go (SQLite needs the tables rebuilt for that).
      db.exec(`
        CREATE TABLE devices (
          id            INTEGER PRIMARY KEY,
          device_key    BLOB NOT NULL UNIQUE,
          username      TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
          certificate   BLOB NOT NULL,
          issued_at_ms  INTEGER NOT NULL,
          name          TEXT NOT NULL,
          created_at_ms INTEGER NOT NULL,
          last_seen_ms  INTEGER NOT NULL,
          revoked_at_ms INTEGER
        ) STRICT;
        CREATE INDEX devices_by_user ON devices (username, id);

        -- Empty until the session attached a device.
        ALTER TABLE sessions ADD COLUMN device_key BLOB NOT NULL DEFAULT x'';
        CREATE INDEX sessions_by_device ON sessions (device_key) WHERE length(device_key) > 0;

        CREATE TABLE key_packages_by_device (
          id           INTEGER PRIMARY KEY,
          identity_key BLOB NOT NULL,
          key_package  BLOB NOT NULL
        ) STRICT;
        INSERT INTO key_packages_by_device (id, identity_key, key_package)
          SELECT id, identity_key, key_package FROM key_packages;
        DROP TABLE key_packages;
        ALTER TABLE key_packages_by_device RENAME TO key_packages;
        CREATE INDEX key_packages_by_identity ON key_packages (identity_key, id);

        CREATE TABLE last_resort_by_device (
          identity_key BLOB PRIMARY KEY,
          key_package  BLOB NOT NULL
        ) STRICT;
        INSERT INTO last_resort_by_device (identity_key, key_package)
          SELECT identity_key, key_package FROM last_resort_key_packages;
        DROP TABLE last_resort_key_packages;
        ALTER TABLE last_resort_by_device RENAME TO last_resort_key_packages;

        -- The account secrets sealed under the password's export key: opaque to the gateway.
        CREATE TABLE account_bundles (
          username TEXT PRIMARY KEY REFERENCES users (username) ON DELETE CASCADE,
          bundle   BLOB NOT NULL
        ) STRICT;

        -- History entries sealed by the account's devices; the first entry of a key is kept.
        CREATE TABLE backup_entries (
          username   TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
          seq        INTEGER NOT NULL,
          entry_key  BLOB NOT NULL,
          ciphertext BLOB NOT NULL,
          PRIMARY KEY (username, seq),
          UNIQUE (username, entry_key)
        ) STRICT;
        CREATE TABLE backup_usage (
          username TEXT PRIMARY KEY REFERENCES users (username) ON DELETE CASCADE,
          last_seq INTEGER NOT NULL,
          bytes    INTEGER NOT NULL
        ) STRICT;
      `);
    },
  },
];

/** The schema version this code writes and understands. */
export function latestVersion(list: readonly Migration[] = migrations): number {
  return list.at(-1)?.version ?? 0;
}

function checkList(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`migration list is malformed: entry ${i} ("${m.name}") has version ${m.version}`);
    }
  });
}

/** The version recorded in the database (0 for a fresh one). */
export function currentVersion(db: Database): number {
  const userVersion = db.pragma("user_version", { simple: true }) as number;
  const hasTable =
    db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'").get() !==
    undefined;
  const recorded = hasTable
    ? ((db.prepare("SELECT max(version) AS v FROM schema_migrations").get() as { v: number | null }).v ?? 0)
    : 0;
  return Math.max(userVersion, recorded);
}

export class SchemaTooNewError extends Error {
  constructor(
    readonly found: number,
    readonly known: number,
  ) {
    super(
      `database schema version ${found} is newer than this gateway understands (${known}); ` +
        `upgrade the gateway or restore a matching backup`,
    );
    this.name = "SchemaTooNewError";
  }
}

/**
 * Brings the database up to the latest version. Returns the versions applied now (empty when it was
 * already current). Throws SchemaTooNewError, changing nothing, for a database from newer code.
 */
export function migrate(db: Database, list: readonly Migration[] = migrations): number[] {
  checkList(list);
  const known = latestVersion(list);
  const applied: number[] = [];
  const step = db.transaction((): boolean => {
    // Re-read inside the write lock: another process may have migrated meanwhile.
    const current = currentVersion(db);
    if (current > known) throw new SchemaTooNewError(current, known);
    const next = list[current];
    if (next === undefined) return false;
    db.exec(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version       INTEGER PRIMARY KEY,
        name          TEXT NOT NULL,
        applied_at_ms INTEGER NOT NULL
      ) STRICT
    `);
    next.up(db);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)").run(
      next.version,
      next.name,
      Date.now(),
    );
    db.pragma(`user_version = ${next.version}`);
    applied.push(next.version);
    return true;
  });
  while (step.immediate()) {
    /* one migration per transaction */
  }
  return applied;
}
