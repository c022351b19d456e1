/**
 * The multi-device half of SqliteStore: devices, sealed account bundles and history backups
 * (docs/cryptography/devices.md). SqliteStore delegates to it; revocation deletes the device's
 * sessions, queue and KeyPackages in the same transaction, so a revoked device has nothing left to use.
 */
import type Database from "better-sqlite3";
import type { Statement } from "better-sqlite3";
import type {
  AddDeviceOutcome,
  BackupEntry,
  BackupPage,
  BackupPutOutcome,
  DeviceRecord,
  DeviceStore,
  NewDevice,
} from "./types.ts";

interface DeviceRow {
  device_key: Buffer;
  username: string;
  certificate: Buffer;
  issued_at_ms: number;
  name: string;
  created_at_ms: number;
  last_seen_ms: number;
  revoked_at_ms: number | null;
}

interface BackupRow {
  seq: number;
  entry_key: Buffer;
  ciphertext: Buffer;
}

function bytes(b: Buffer): Uint8Array {
  return new Uint8Array(b);
}

function toDevice(row: DeviceRow): DeviceRecord {
  return {
    deviceKey: bytes(row.device_key),
    username: row.username,
    certificate: bytes(row.certificate),
    issuedAtMs: row.issued_at_ms,
    name: row.name,
    createdAtMs: row.created_at_ms,
    lastSeenMs: row.last_seen_ms,
    ...(row.revoked_at_ms !== null && { revokedAtMs: row.revoked_at_ms }),
  };
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

function prepare(db: Database.Database) {
  const s = <R = unknown>(sql: string) => db.prepare<unknown[], R>(sql);
  return {
    userExists: s<{ one: number }>("SELECT 1 AS one FROM users WHERE username = ?"),
    userOfIdentity: s<{ username: string }>("SELECT username FROM users WHERE identity_key = ?"),
    device: s<DeviceRow>("SELECT * FROM devices WHERE device_key = ?"),
    devicesOf: s<DeviceRow>("SELECT * FROM devices WHERE username = ? ORDER BY id"),
    activeCount: s<{ n: number }>(
      "SELECT count(*) AS n FROM devices WHERE username = ? AND revoked_at_ms IS NULL",
    ),
    insertDevice: s(
      "INSERT INTO devices (device_key, username, certificate, issued_at_ms, name, created_at_ms, " +
        "last_seen_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ),
    rename: s("UPDATE devices SET name = ? WHERE username = ? AND device_key = ? AND revoked_at_ms IS NULL"),
    touch: s("UPDATE devices SET last_seen_ms = max(last_seen_ms, ?) WHERE device_key = ?"),
    revoke: s(
      "UPDATE devices SET revoked_at_ms = ? WHERE username = ? AND device_key = ? AND revoked_at_ms IS NULL",
    ),
    deviceSessions: s<{ token_hash: Buffer }>(
      "DELETE FROM sessions WHERE device_key = ? RETURNING token_hash",
    ),
    deviceQueue: s<{ payload_id: number | null }>(
      "DELETE FROM queue WHERE recipient_key = ? RETURNING payload_id",
    ),
    orphanPayload: s(
      "DELETE FROM payloads WHERE id = ? AND NOT EXISTS (SELECT 1 FROM queue WHERE payload_id = ?)",
    ),
    deviceKeyPackages: s("DELETE FROM key_packages WHERE identity_key = ?"),
    deviceLastResort: s("DELETE FROM last_resort_key_packages WHERE identity_key = ?"),
    setBundle: s(
      "INSERT INTO account_bundles (username, bundle) VALUES (?, ?) " +
        "ON CONFLICT (username) DO UPDATE SET bundle = excluded.bundle",
    ),
    getBundle: s<{ bundle: Buffer }>("SELECT bundle FROM account_bundles WHERE username = ?"),
    usage: s<{ last_seq: number; bytes: number }>(
      "SELECT last_seq, bytes FROM backup_usage WHERE username = ?",
    ),
    setUsage: s(
      "INSERT INTO backup_usage (username, last_seq, bytes) VALUES (?, ?, ?) " +
        "ON CONFLICT (username) DO UPDATE SET last_seq = excluded.last_seq, bytes = excluded.bytes",
    ),
    hasEntry: s<{ one: number }>("SELECT 1 AS one FROM backup_entries WHERE username = ? AND entry_key = ?"),
    insertEntry: s("INSERT INTO backup_entries (username, seq, entry_key, ciphertext) VALUES (?, ?, ?, ?)"),
    entrySizes: s<{ seq: number; size: number }>(
      "SELECT seq, length(entry_key) + length(ciphertext) AS size FROM backup_entries " +
        "WHERE username = ? AND seq > ? ORDER BY seq LIMIT ?",
    ),
    entries: s<BackupRow>(
      "SELECT seq, entry_key, ciphertext FROM backup_entries WHERE username = ? AND seq > ? " +
        "ORDER BY seq LIMIT ?",
    ),
  } satisfies Record<string, Statement<unknown[], unknown>>;
}

export class SqliteDevices implements DeviceStore {
  private readonly dq: ReturnType<typeof prepare>;
  private readonly addTx: (device: NewDevice, maxDevices: number) => AddDeviceOutcome;
  private readonly revokeTx: (
    username: string,
    deviceKey: Uint8Array,
    nowMs: number,
  ) => Uint8Array[] | undefined;
  private readonly putTx: (username: string, entries: BackupEntry[], maxBytes: number) => BackupPutOutcome;

  constructor(db: Database.Database) {
    const q = prepare(db);
    this.dq = q;

    this.addTx = db.transaction((device: NewDevice, maxDevices: number): AddDeviceOutcome => {
      if (!q.userExists.get(device.username)) throw new Error(`unknown user ${device.username}`);
      const existing = q.device.get(device.deviceKey) as DeviceRow | undefined;
      if (existing) {
        if (existing.username !== device.username) return "taken";
        return existing.revoked_at_ms === null ? "exists" : "revoked";
      }
      const owner = q.userOfIdentity.get(device.deviceKey) as { username: string } | undefined;
      if (owner && owner.username !== device.username) return "taken";
      if ((q.activeCount.get(device.username) as { n: number }).n >= maxDevices) return "full";
      q.insertDevice.run(
        device.deviceKey,
        device.username,
        device.certificate,
        device.issuedAtMs,
        device.name,
        device.createdAtMs,
        device.lastSeenMs,
      );
      return "added";
    });

    this.revokeTx = db.transaction((username: string, deviceKey: Uint8Array, nowMs: number) => {
      if (q.revoke.run(nowMs, username, deviceKey).changes !== 1) return undefined;
      const sessions = q.deviceSessions.all(deviceKey) as { token_hash: Buffer }[];
      const removed = q.deviceQueue.all(deviceKey) as { payload_id: number | null }[];
      const payloadIds = new Set<number>();
      for (const row of removed) if (row.payload_id !== null) payloadIds.add(row.payload_id);
      for (const id of payloadIds) q.orphanPayload.run(id, id);
      q.deviceKeyPackages.run(deviceKey);
      q.deviceLastResort.run(deviceKey);
      return sessions.map((row) => bytes(row.token_hash));
    });

    this.putTx = db.transaction((username: string, entries: BackupEntry[], maxBytes: number) => {
      if (!q.userExists.get(username)) throw new Error(`unknown user ${username}`);
      const usage = (q.usage.get(username) as { last_seq: number; bytes: number } | undefined) ?? {
        last_seq: 0,
        bytes: 0,
      };
      const fresh = new Map<string, BackupEntry>();
      for (const e of entries) {
        const k = hex(e.key);
        if (!fresh.has(k) && !q.hasEntry.get(username, e.key)) fresh.set(k, e);
      }
      let added = 0;
      for (const e of fresh.values()) added += e.key.length + e.ciphertext.length;
      if (usage.bytes + added > maxBytes) return { status: "full", usedBytes: usage.bytes } as const;
      let seq = usage.last_seq;
      for (const e of fresh.values()) q.insertEntry.run(username, ++seq, e.key, e.ciphertext);
      q.setUsage.run(username, seq, usage.bytes + added);
      return { status: "stored", stored: fresh.size, usedBytes: usage.bytes + added } as const;
    });
  }

  async addDevice(device: NewDevice, maxDevices: number): Promise<AddDeviceOutcome> {
    return this.addTx(device, maxDevices);
  }

  async getDevice(deviceKey: Uint8Array): Promise<DeviceRecord | undefined> {
    const row = this.dq.device.get(deviceKey) as DeviceRow | undefined;
    return row && toDevice(row);
  }

  async listDevices(username: string): Promise<DeviceRecord[]> {
    return (this.dq.devicesOf.all(username) as DeviceRow[]).map(toDevice);
  }

  async listDeviceKeys(identityKey: Uint8Array): Promise<{ devices: Uint8Array[]; everAttached: boolean }> {
    const owner = this.dq.userOfIdentity.get(identityKey) as { username: string } | undefined;
    if (!owner) return { devices: [], everAttached: false };
    const rows = this.dq.devicesOf.all(owner.username) as DeviceRow[];
    return {
      devices: rows.filter((r) => r.revoked_at_ms === null).map((r) => bytes(r.device_key)),
      everAttached: rows.length > 0,
    };
  }

  async renameDevice(username: string, deviceKey: Uint8Array, name: string): Promise<boolean> {
    return this.dq.rename.run(name, username, deviceKey).changes === 1;
  }

  async touchDevice(deviceKey: Uint8Array, nowMs: number): Promise<void> {
    this.dq.touch.run(nowMs, deviceKey);
  }

  async revokeDevice(
    username: string,
    deviceKey: Uint8Array,
    nowMs: number,
  ): Promise<Uint8Array[] | undefined> {
    return this.revokeTx(username, deviceKey, nowMs);
  }

  async setAccountBundle(username: string, bundle: Uint8Array): Promise<void> {
    if (!this.dq.userExists.get(username)) throw new Error(`unknown user ${username}`);
    this.dq.setBundle.run(username, bundle);
  }

  async getAccountBundle(username: string): Promise<Uint8Array | undefined> {
    const row = this.dq.getBundle.get(username) as { bundle: Buffer } | undefined;
    return row && bytes(row.bundle);
  }

  async putBackupEntries(
    username: string,
    entries: BackupEntry[],
    maxBytes: number,
  ): Promise<BackupPutOutcome> {
    return this.putTx(username, entries, maxBytes);
  }

  async fetchBackupEntries(
    username: string,
    afterSeq: number,
    page: { limit: number; maxBytes: number },
  ): Promise<BackupPage> {
    if (!Number.isSafeInteger(page.limit) || page.limit < 1) {
      throw new RangeError(`invalid page limit: ${page.limit}`);
    }
    // Sizes first, as for queue pages: entries past the cut are never loaded.
    const sizes = this.dq.entrySizes.iterate(username, afterSeq, page.limit + 1) as IterableIterator<{
      seq: number;
      size: number;
    }>;
    let count = 0;
    let used = 0;
    let more = false;
    for (const row of sizes) {
      used += row.size;
      if (count === page.limit || (count > 0 && used > page.maxBytes)) {
        more = true;
        break;
      }
      count++;
    }
    const rows = count === 0 ? [] : (this.dq.entries.all(username, afterSeq, count) as BackupRow[]);
    return {
      entries: rows.map((r) => ({ seq: r.seq, key: bytes(r.entry_key), ciphertext: bytes(r.ciphertext) })),
      more,
    };
  }

  async backupBytes(username: string): Promise<number> {
    return (this.dq.usage.get(username) as { bytes: number } | undefined)?.bytes ?? 0;
  }
}
