import Database from "better-sqlite3";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "@qpq/shared/bytes";
import { afterAll, describe, expect, it } from "vitest";
import { openStore, SQLITE_FILE_NAME } from "./index.ts";
import { currentVersion, latestVersion, migrate, migrations, SchemaTooNewError } from "./migrations.ts";
import type { Migration } from "./migrations.ts";
import { SqliteStore } from "./sqliteStore.ts";
import { benchStore } from "../../bench/storeBench.ts";
import { runDeviceContract } from "./deviceContract.ts";
import { runHybridKeyContract } from "./hybridKeyContract.ts";
import { runStoreContract } from "./storeContract.ts";
import type { Store } from "./types.ts";

const root = mkdtempSync(join(tmpdir(), "qpq-sqlite-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function tempPath(): string {
  counter += 1;
  return join(root, `db-${counter}.sqlite`);
}

const paths = new Map<Store, string>();

/** A store on a new file, and the same file opened again: the contracts' durability checks use both. */
async function openFileStore(): Promise<Store> {
  const path = tempPath();
  const store = SqliteStore.open({ path, synchronous: "full" });
  paths.set(store, path);
  return store;
}

async function reopenFileStore(store: Store): Promise<Store> {
  const path = paths.get(store);
  if (path === undefined) throw new Error("unknown store");
  await store.close();
  const reopened = SqliteStore.open({ path, synchronous: "full" });
  paths.set(reopened, path);
  return reopened;
}

runStoreContract(
  "SqliteStore (file)",
  async () => {
    const path = tempPath();
    const store = SqliteStore.open({ path, synchronous: "full" });
    paths.set(store, path);
    return store;
  },
  {
    reopen: async (store) => {
      const path = paths.get(store);
      if (path === undefined) throw new Error("unknown store");
      await store.close();
      const reopened = SqliteStore.open({ path, synchronous: "full" });
      paths.set(reopened, path);
      return reopened;
    },
  },
);

runStoreContract("SqliteStore (:memory:)", async () =>
  SqliteStore.open({ path: ":memory:", synchronous: "normal" }),
);

runHybridKeyContract("SqliteStore (file)", openFileStore, reopenFileStore);

runDeviceContract("SqliteStore (file)", openFileStore, reopenFileStore);

function rawVersions(path: string): { version: number; name: string }[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare("SELECT version, name FROM schema_migrations ORDER BY version").all() as {
      version: number;
      name: string;
    }[];
  } finally {
    db.close();
  }
}

describe("SqliteStore specifics", () => {
  it("stores a fanned-out payload once and drops it with the last acknowledgement", async () => {
    const path = tempPath();
    const store = SqliteStore.open({ path });
    const payload = new Uint8Array(4000).fill(7);
    const recipients = [1, 2, 3].map((n) => new Uint8Array(32).fill(n));
    const envelopes = recipients.map((recipientKey) => ({
      recipientKey,
      channelId: new Uint8Array(16),
      payload,
      enqueuedAtMs: 1,
    }));
    // One envelope alone keeps its payload inline.
    await store.enqueue([{ ...envelopes[0]!, payload: new Uint8Array(10) }]);
    await store.enqueue(envelopes);
    const db = new Database(path, { readonly: true });
    const count = () => (db.prepare("SELECT count(*) AS n FROM payloads").get() as { n: number }).n;
    expect(count()).toBe(1);
    await store.ack(recipients[0]!, 100);
    await store.ack(recipients[1]!, 100);
    expect(count()).toBe(1);
    expect((await store.fetch(recipients[2]!, 0, 10))[0]?.payload).toEqual(payload);
    await store.ack(recipients[2]!, 100);
    expect(count()).toBe(0);
    db.close();
    await store.close();
  });

  it("applies migrations once, records them, and does not re-run them on reopen", async () => {
    const path = tempPath();
    await SqliteStore.open({ path }).close();
    const recorded = rawVersions(path);
    expect(recorded.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
    expect(recorded[0]?.name).toBe("initial schema");

    // Re-running would fail: CREATE TABLE without IF NOT EXISTS. Also nothing new is recorded.
    const store = SqliteStore.open({ path });
    await store.initSetting("k", "v");
    await store.close();
    expect(rawVersions(path)).toEqual(recorded);
    const db = new Database(path);
    expect(currentVersion(db)).toBe(latestVersion());
    expect(db.pragma("user_version", { simple: true })).toBe(latestVersion());
    expect(migrate(db)).toEqual([]);
    db.close();
  });

  it("applies a later migration only, each in order", () => {
    const db = new Database(":memory:");
    expect(migrate(db)).toEqual(migrations.map((m) => m.version));
    const next: Migration = {
      version: latestVersion() + 1,
      name: "example",
      up: (d) => d.exec("CREATE TABLE example_later (id BLOB PRIMARY KEY) STRICT"),
    };
    const extended = [...migrations, next];
    expect(migrate(db, extended)).toEqual([next.version]);
    expect(migrate(db, extended)).toEqual([]);
    expect(currentVersion(db)).toBe(next.version);
    db.close();
  });

  it("rolls back a failing migration entirely", () => {
    const db = new Database(":memory:");
    migrate(db);
    const bad: Migration = {
      version: latestVersion() + 1,
      name: "broken",
      up: (d) => {
        d.exec("CREATE TABLE half_done (x INTEGER)");
        throw new Error("boom");
      },
    };
    expect(() => migrate(db, [...migrations, bad])).toThrow("boom");
    expect(currentVersion(db)).toBe(latestVersion());
    expect(db.prepare("SELECT name FROM sqlite_schema WHERE name = 'half_done'").get()).toBeUndefined();
    db.close();
  });

  it("migration 5 drops direct channels and deliveries without a channel, and keeps group channels", async () => {
    const path = tempPath();
    const db = new Database(path);
    migrate(db, migrations.slice(0, 4));
    const key = (n: number) => new Uint8Array(32).fill(n);
    const [alice, bob] = [key(1), key(2)];
    const direct = new Uint8Array(16).fill(0xd);
    const group = new Uint8Array(16).fill(0x9);
    const none = new Uint8Array(0);
    const insertChannel = db.prepare(
      "INSERT INTO channels (channel_id, kind, pair_low, pair_high, group_id, epoch, last_commit_hash, " +
        "created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
    );
    insertChannel.run(direct, "direct", alice, bob, none, 0, none);
    insertChannel.run(group, "group", null, null, new Uint8Array(16).fill(0x6), 2, new Uint8Array(32));
    const member = db.prepare("INSERT INTO channel_members (channel_id, identity_key) VALUES (?, ?)");
    for (const channel of [direct, group]) for (const k of [alice, bob]) member.run(channel, k);
    db.prepare("INSERT INTO channel_tokens (channel_id, epoch, token_hash) VALUES (?, 2, ?)").run(
      group,
      new Uint8Array(32).fill(3),
    );
    const shared = Number(
      db.prepare("INSERT INTO payloads (payload) VALUES (?)").run(Buffer.from("fan")).lastInsertRowid,
    );
    const legacyShared = Number(
      db.prepare("INSERT INTO payloads (payload) VALUES (?)").run(Buffer.from("old fan")).lastInsertRowid,
    );
    const row = db.prepare(
      "INSERT INTO queue (recipient_key, seq, channel_id, payload, enqueued_at_ms, payload_id) VALUES (?, ?, ?, ?, 1, ?)",
    );
    row.run(bob, 1, direct, Buffer.from("direct"), null);
    row.run(bob, 2, none, Buffer.from("legacy"), null);
    row.run(bob, 3, group, none, shared);
    row.run(alice, 1, group, none, shared);
    row.run(alice, 2, none, none, legacyShared);
    db.prepare("INSERT INTO queue_heads (recipient_key, last_seq) VALUES (?, 3), (?, 2)").run(bob, alice);
    expect(migrate(db)).toEqual([5, ...migrations.slice(5).map((m) => m.version)]);
    const hex = (rows: unknown[]) => (rows as { v: Buffer }[]).map((r) => r.v.toString("hex"));
    expect(hex(db.prepare("SELECT channel_id AS v FROM channels").all())).toEqual([toHex(group)]);
    expect(hex(db.prepare("SELECT DISTINCT channel_id AS v FROM channel_members").all())).toEqual([
      toHex(group),
    ]);
    expect(hex(db.prepare("SELECT DISTINCT channel_id AS v FROM queue").all())).toEqual([toHex(group)]);
    expect(db.prepare("SELECT id FROM payloads").all()).toEqual([{ id: shared }]);
    db.close();

    // What is left works as before; seqs are not reused for the rows that went.
    const store = SqliteStore.open({ path });
    expect(await store.getChannel(group)).toMatchObject({ epoch: 2 });
    expect(await store.getChannel(direct)).toBeUndefined();
    expect(await store.getTokenHash(group, 2)).toEqual(new Uint8Array(32).fill(3));
    expect((await store.fetch(bob, 0, 10)).map((e) => [e.seq, Buffer.from(e.payload).toString()])).toEqual([
      [3, "fan"],
    ]);
    expect(
      await store.enqueue([{ recipientKey: bob, channelId: group, payload: key(5), enqueuedAtMs: 2 }]),
    ).toEqual([4]);
    await store.close();
  });

  it("rejects a malformed migration list", () => {
    const db = new Database(":memory:");
    const gap: Migration = { version: latestVersion() + 2, name: "gap", up: () => {} };
    expect(() => migrate(db, [...migrations, gap])).toThrow(/malformed/);
    db.close();
  });

  it("refuses a database from a newer schema, leaving it untouched", async () => {
    const path = tempPath();
    await SqliteStore.open({ path }).close();
    const future = latestVersion() + 5;
    const db = new Database(path);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, 'future', 0)").run(
      future,
    );
    db.pragma(`user_version = ${future}`);
    db.close();

    expect(() => SqliteStore.open({ path })).toThrow(SchemaTooNewError);
    expect(() => SqliteStore.open({ path })).toThrow(/newer than this gateway understands/);
    expect(rawVersions(path).at(-1)?.version).toBe(future);
  });

  it("creates the database owner-only (0600), WAL and SHM too", async () => {
    const path = tempPath();
    const store = SqliteStore.open({ path });
    await store.enqueue([
      {
        recipientKey: new Uint8Array(32),
        channelId: new Uint8Array(0),
        payload: new Uint8Array(10),
        enqueuedAtMs: 1,
      },
    ]);
    for (const p of [path, `${path}-wal`, `${path}-shm`]) {
      expect((statSync(p).mode & 0o777).toString(8)).toBe("600");
    }
    const db = new Database(path, { readonly: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
    await store.close();
  });

  it("openStore creates dataDir (0700) and qpq.sqlite", async () => {
    const dataDir = join(root, `data-${++counter}`, "nested");
    const store = await openStore({ kind: "sqlite", dataDir, synchronous: "normal" });
    await store.initSetting("a", "b");
    await store.close();
    expect((statSync(dataDir).mode & 0o777).toString(8)).toBe("700");
    expect((statSync(join(dataDir, SQLITE_FILE_NAME)).mode & 0o777).toString(8)).toBe("600");
    const again = await openStore({ kind: "sqlite", dataDir, synchronous: "full" });
    expect(await again.getSetting("a")).toBe("b");
    await again.close();
    const memory = await openStore({ kind: "memory", dataDir: join(root, "unused"), synchronous: "full" });
    expect(await memory.initSetting("a", "c")).toBe("c");
    await memory.close();
  });

  it("benchStore runs and drains (sanity only)", async () => {
    const store = SqliteStore.open({ path: tempPath(), synchronous: "normal" });
    const result = await benchStore(store, {
      messages: 2000,
      batchSize: 100,
      payloadBytes: 256,
      recipients: 3,
    });
    expect(result.enqueuePerSec).toBeGreaterThan(0);
    expect(result.fetchAckPerSec).toBeGreaterThan(0);
    await store.close();
  });
});
