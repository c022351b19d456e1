import "fake-indexeddb/auto";
import { IDBFactory, IDBObjectStore } from "fake-indexeddb";
import { wrap } from "idb";
import type { IDBPDatabase } from "idb";
import { afterEach, describe, expect, it } from "vitest";
import { toBase64Url, toHex, utf8 } from "@qpq/shared/bytes";
import type { ClientStore, GroupRecord, MessageRecord } from "@qpq/shared/client";
import { runClientStoreContract } from "@qpq/shared/client/contract";
import { AtRestDecryptError } from "@qpq/shared/crypto";
import { accountDatabaseName, DB_VERSION, IdbClientStore, migrations } from "./idbClientStore.ts";

const exportKey = new Uint8Array(64).map((_, i) => i * 3);
const otherExportKey = new Uint8Array(64).map((_, i) => i * 5);

/** Where each store lives, so reopen can find its data again. */
const origins = new Map<ClientStore, { factory: IDBFactory; username: string }>();
let accounts = 0;

async function freshStore(username = `user-${++accounts}`, factory = new IDBFactory()) {
  const store = await IdbClientStore.open({ username, exportKey, indexedDB: factory });
  origins.set(store, { factory, username });
  return store;
}

runClientStoreContract("IdbClientStore (fake-indexeddb)", () => freshStore(), {
  reopen: async (store) => {
    const origin = origins.get(store);
    if (!origin || !(store instanceof IdbClientStore)) throw new Error("unknown store");
    store.close();
    const reopened = await IdbClientStore.open({ ...origin, exportKey, indexedDB: origin.factory });
    origins.set(reopened, origin);
    return reopened;
  },
});

/** Opens a database on an injected factory, bypassing IdbClientStore (idb's openDB uses the global). */
async function rawOpen(
  factory: IDBFactory,
  name: string,
  version?: number,
  upgrade?: (db: IDBDatabase) => void,
): Promise<IDBPDatabase> {
  const request = factory.open(name, version);
  if (upgrade) request.onupgradeneeded = () => upgrade(request.result);
  return (await wrap(request)) as unknown as IDBPDatabase;
}

/** Every key, index key and value of every store, flattened into bytes. */
async function rawContents(factory: IDBFactory, name: string): Promise<Uint8Array[]> {
  const db = await rawOpen(factory, name);
  const out: Uint8Array[] = [utf8(name)];
  const add = (value: unknown): void => {
    if (value instanceof Uint8Array) out.push(value);
    else if (value instanceof ArrayBuffer) out.push(new Uint8Array(value));
    else if (Array.isArray(value)) value.forEach(add);
    else if (value !== null && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        out.push(utf8(k));
        add(v);
      }
    } else out.push(utf8(String(value)));
  };
  for (const storeName of db.objectStoreNames) {
    out.push(utf8(storeName));
    const tx = db.transaction(storeName);
    for (const indexName of tx.store.indexNames) {
      for (let c = await tx.store.index(indexName).openCursor(); c; c = await c.continue()) add(c.key);
    }
    for (let c = await tx.store.openCursor(); c; c = await c.continue()) {
      add(c.key);
      add(c.value);
    }
  }
  db.close();
  return out;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

describe("IdbClientStore at rest", () => {
  const opened: IdbClientStore[] = [];
  afterEach(() => opened.splice(0).forEach((s) => s.close()));

  const secretState = new Uint8Array(333).map((_, i) => (i * 31 + 7) & 0xff);
  const group: GroupRecord = {
    id: "c0ffee".repeat(8),
    suite: "MLS_256_XWING_AES256GCM_SHA512_Ed25519",
    state: secretState,
    epoch: 4,
    name: "Project Nightingale",
    createdAtMs: 1,
    updatedAtMs: 2,
    channelId: "5eed".repeat(8),
  };
  const message: MessageRecord = {
    id: "msg-7f3a9c",
    groupId: group.id,
    sender: "bob-the-sender",
    text: "TOP SECRET PLAINTEXT",
    sentAtMs: 1_700_000_000_000,
    receivedAtMs: 1_700_000_000_100,
    status: "received",
  };

  it("leaves no plaintext key, id, name or message in the raw database", async () => {
    const factory = new IDBFactory();
    const store = await freshStore("alice-secret-name", factory);
    opened.push(store);
    const privateKey = new Uint8Array(32).map((_, i) => 200 - i);
    await store.putAccount({
      username: "alice-secret-name",
      signaturePublicKey: new Uint8Array(32).fill(9),
      signaturePrivateKey: privateKey,
      suite: "s",
      createdAtMs: 1,
    });
    await store.putKeyPackages([
      {
        ref: "kpref-abc",
        encoded: new Uint8Array(10),
        initPrivateKey: privateKey,
        hpkePrivateKey: privateKey,
        lastResort: false,
        createdAtMs: 1,
      },
    ]);
    await store.applyEnvelope({
      seq: 42,
      groups: [group],
      messages: [message],
      addPending: [{ seq: 43, payload: secretState, groupId: group.id, epoch: 5, receivedAtMs: 3 }],
    });
    store.close();

    const haystacks = await rawContents(factory, await accountDatabaseName("alice-secret-name"));
    const total = haystacks.reduce((sum, h) => sum + h.length, 0);
    expect(total).toBeGreaterThan(2 * secretState.length); // the scan really saw the sealed records
    const needles: [string, Uint8Array][] = [];
    for (const text of [
      message.text,
      message.id,
      message.sender,
      group.name,
      group.id,
      "alice-secret-name",
      "kpref-abc",
    ]) {
      needles.push([text, utf8(text)]);
    }
    for (const [label, bytes] of [
      ["group state", secretState],
      ["private key", privateKey],
    ] as const) {
      needles.push(
        [label, bytes],
        [`${label} (base64url)`, utf8(toBase64Url(bytes))],
        [`${label} (hex)`, utf8(toHex(bytes))],
      );
    }
    for (const [label, needle] of needles) {
      const found = haystacks.some((h) => contains(h, needle));
      expect(found, `${label} found in raw IndexedDB`).toBe(false);
    }
    expect((await factory.databases()).map((d) => d.name)).toEqual([
      await accountDatabaseName("alice-secret-name"),
    ]);
  });

  it("the raw scan does find plaintext when it is there", async () => {
    const factory = new IDBFactory();
    const raw = await rawOpen(factory, "control", 1, (db) => db.createObjectStore("s"));
    await raw.put("s", { text: message.text, state: secretState }, "k");
    raw.close();
    const haystacks = await rawContents(factory, "control");
    expect(haystacks.some((h) => contains(h, utf8(message.text)))).toBe(true);
    expect(haystacks.some((h) => contains(h, secretState))).toBe(true);
  });

  it("refuses to open with a wrong export key, with a decryption error", async () => {
    const factory = new IDBFactory();
    const store = await freshStore("carol", factory);
    await store.putMessage(message);
    store.close();
    const attempt = IdbClientStore.open({ username: "carol", exportKey: otherExportKey, indexedDB: factory });
    await expect(attempt).rejects.toBeInstanceOf(AtRestDecryptError);
    await expect(
      IdbClientStore.open({ username: "carol", exportKey: otherExportKey, indexedDB: factory }),
    ).rejects.toThrow(/wrong export key/);
    const again = await IdbClientStore.open({ username: "carol", exportKey, indexedDB: factory });
    opened.push(again);
    expect(await again.listMessages(group.id)).toEqual([message]);
  });

  it("rejects records swapped between slots", async () => {
    const factory = new IDBFactory();
    const store = await freshStore("dave", factory);
    await store.putGroup(group);
    await store.putGroup({ ...group, id: "ab".repeat(24), name: "other" });
    store.close();
    const raw = await rawOpen(factory, await accountDatabaseName("dave"));
    const rows = (await raw.getAll("groups")) as { k: string; v: Uint8Array }[];
    expect(rows).toHaveLength(2);
    await raw.put("groups", { k: rows[0]!.k, v: rows[1]!.v });
    raw.close();
    const reopened = await IdbClientStore.open({ username: "dave", exportKey, indexedDB: factory });
    opened.push(reopened);
    await expect(reopened.listGroups()).rejects.toBeInstanceOf(AtRestDecryptError);
  });

  it("tells the sender of a stored message only to a put for the same id, linking no two messages", async () => {
    const factory = new IDBFactory();
    const store = await freshStore("erin", factory);
    await store.putMessage(message);
    await store.putMessage({ ...message, id: "msg-second" });
    // A row from before the sender hash: the first put after it stores the hash again.
    store.close();
    let raw = await rawOpen(factory, await accountDatabaseName("erin"));
    const rows = (await raw.getAll("messages")) as { k: string; s?: string }[];
    expect(rows.map((r) => r.s)).toEqual([expect.any(String), expect.any(String)]);
    expect(rows[0]!.s).not.toBe(rows[1]!.s);
    for (const row of rows) delete row.s;
    for (const row of rows) await raw.put("messages", row);
    raw.close();
    const reopened = await IdbClientStore.open({ username: "erin", exportKey, indexedDB: factory });
    opened.push(reopened);
    await reopened.putMessage({ ...message, status: "failed" });
    await reopened.putMessage({ ...message, sender: "mallory", text: "replaced" });
    expect(await reopened.getMessage(group.id, message.id)).toEqual({ ...message, status: "failed" });
    reopened.close();
    raw = await rawOpen(factory, await accountDatabaseName("erin"));
    expect(((await raw.getAll("messages")) as { s?: string }[]).filter((r) => r.s)).toHaveLength(1);
    raw.close();
  });

  it("applies nothing when applyEnvelope fails mid-transaction", async () => {
    const store = await freshStore();
    opened.push(store);
    await store.applyEnvelope({ seq: 1, groups: [{ ...group, epoch: 1 }] });
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<typeof put>) {
      if (this.name === "pending") throw new DOMException("simulated failure", "QuotaExceededError");
      return put.apply(this, args);
    };
    try {
      const failing = store.applyEnvelope({
        seq: 9,
        groups: [group],
        messages: [message],
        addPending: [{ seq: 9, payload: new Uint8Array(1), groupId: "", epoch: 0, receivedAtMs: 1 }],
      });
      await expect(failing).rejects.toThrow(/simulated failure/);
    } finally {
      IDBObjectStore.prototype.put = put;
    }
    expect(await store.getCursor()).toBe(1);
    expect((await store.getGroup(group.id))?.epoch).toBe(1);
    expect(await store.listMessages(group.id)).toEqual([]);
    expect(await store.listPending()).toEqual([]);
    // The store stays usable after the failure.
    await store.applyEnvelope({ seq: 9, messages: [message] });
    expect(await store.getCursor()).toBe(9);
  });

  it("never moves the cursor backwards when two tabs apply envelopes at once", async () => {
    const factory = new IDBFactory();
    const tabA = await freshStore("hal", factory);
    const tabB = await freshStore("hal", factory);
    opened.push(tabA, tabB);
    // tabB reads the cursor before tabA's commit and writes after it: it must not put 1 over 100.
    const big = tabA.applyEnvelope({ seq: 100 });
    const small = Array.from({ length: 10 }, (_, i) => tabB.applyEnvelope({ seq: i + 1 }));
    await Promise.all([big, ...small]);
    expect(await tabA.getCursor()).toBe(100);
    expect(await tabB.getCursor()).toBe(100);
  });

  it("keeps accounts apart and forgets one on request", async () => {
    const factory = new IDBFactory();
    const erin = await freshStore("erin", factory);
    const frank = await freshStore("frank", factory);
    opened.push(frank);
    await erin.putGroup(group);
    expect(await frank.listGroups()).toEqual([]);
    // deleteAccountData must not hang on erin's open connection: the store closes itself.
    await IdbClientStore.deleteAccountData("erin", factory);
    await expect(erin.listGroups()).rejects.toThrow(/closed/);
    const names = (await factory.databases()).map((d) => d.name);
    expect(names).toEqual([await accountDatabaseName("frank")]);
    const fresh = await IdbClientStore.open({ username: "erin", exportKey, indexedDB: factory });
    opened.push(fresh);
    expect(await fresh.listGroups()).toEqual([]);
  });

  it("names databases by a username hash and numbers migrations in order", async () => {
    expect(await accountDatabaseName("alice")).toMatch(/^qpq-[0-9a-f]{16}$/);
    expect(await accountDatabaseName("alice")).not.toBe(await accountDatabaseName("bob"));
    migrations.forEach((m, i) => expect(m.version).toBe(i + 1));
    expect(DB_VERSION).toBe(migrations.length);
  });

  it("refuses a database written by a newer schema, clearly", async () => {
    const factory = new IDBFactory();
    const name = await accountDatabaseName("gina");
    (await rawOpen(factory, name, DB_VERSION + 1)).close();
    await expect(IdbClientStore.open({ username: "gina", exportKey, indexedDB: factory })).rejects.toThrow(
      /newer version/,
    );
  });
});
