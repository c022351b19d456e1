/**
 * ClientStore on IndexedDB, encrypted at rest: a copy of the browser profile reveals neither keys,
 * group states nor messages without the account password (the key comes from the OPAQUE export key).
 *
 * What stays visible on disk, by design: the number and sizes of records, pending envelope seqs and
 * message receive times (needed in clear for ordering), and SHA-256(username) truncated, as the
 * database name. Ids that would identify conversations or messages are keyed-hash pseudonyms.
 */
import { wrap } from "idb";
import type { DBSchema, IDBPDatabase, IDBPObjectStore, IDBPTransaction, StoreNames } from "idb";
import { bytesEqual, toHex } from "@qpq/shared/bytes";
import type {
  AccountRecord,
  ClientStore,
  ContactRecord,
  EnvelopeOutcome,
  GroupRecord,
  KeyPackageRecord,
  MessageRecord,
  PendingRecord,
} from "@qpq/shared/client";
import {
  AtRestDecryptError,
  blindId,
  decodeRecord,
  deriveBlindingKey,
  deriveStorageKey,
  encodeRecord,
  open,
  seal,
  sha256,
} from "@qpq/shared/crypto";

/** A sealed value; k is repeated inside the row (keyPath) so listing can rebuild each record's AAD. */
interface SealedRow<K extends string | number = string> {
  k: K;
  v: Uint8Array;
}

/**
 * g = pseudonymous group, t = receivedAtMs, n = tie-breaker keeping insertion order within equal t,
 * s = keyed hash of (group, id, sender): lets the write transaction see whether a put comes from the
 * stored message's sender without unsealing (no WebCrypto inside a transaction), and differs for every
 * message, so it links no two messages of one sender. Absent in rows written before it existed.
 */
interface MessageRow extends SealedRow {
  g: string;
  t: number;
  n: number;
  s?: string;
}

export interface QpqDB extends DBSchema {
  account: { key: string; value: SealedRow };
  keyPackages: { key: string; value: SealedRow };
  groups: { key: string; value: SealedRow };
  messages: { key: string; value: MessageRow; indexes: { byGroup: [string, number, number] } };
  pending: { key: number; value: SealedRow<number> };
  meta: { key: string; value: SealedRow };
  contacts: { key: string; value: SealedRow };
}

type Store = StoreNames<QpqDB>;
type UpgradeTx = IDBPTransaction<QpqDB, Store[], "versionchange">;

export interface Migration {
  version: number;
  apply(db: IDBPDatabase<QpqDB>, tx: UpgradeTx): void;
}

/** Append only: a shipped step never changes, since browsers out there already ran it. */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    apply(db) {
      for (const name of ["account", "keyPackages", "groups", "pending", "meta"] as const) {
        db.createObjectStore(name, { keyPath: "k" });
      }
      db.createObjectStore("messages", { keyPath: "k" }).createIndex("byGroup", ["g", "t", "n"]);
    },
  },
  {
    version: 2,
    apply(db) {
      db.createObjectStore("contacts", { keyPath: "k" });
    },
  },
];

export const DB_VERSION = migrations[migrations.length - 1]!.version;

const ACCOUNT = "account";
const CURSOR = "cursor";
const KEY_CHECK = "check";
const KEY_CHECK_TEXT = "quicproquo at-rest key check v1";
/**
 * Tabs of one account serialize applyEnvelope through a Web Lock where the browser has them; the
 * optimistic cursor check is what keeps the cursor correct anyway, and jittered retries let a tab
 * that keeps losing the race get through.
 */
const CURSOR_ATTEMPTS = 30;

/** Per-account database; hashed so the list of databases in a profile does not list usernames. */
export async function accountDatabaseName(username: string): Promise<string> {
  return `qpq-${toHex(await sha256(username)).slice(0, 16)}`;
}

function aad(store: Store, key: string | number): string {
  return `${store}\u0000${key}`;
}

/**
 * Fire-and-forget a request inside a transaction: a failure aborts the transaction, and is reported by
 * tx.done, so the request's own rejection only needs silencing.
 */
function issue(request: Promise<unknown>): void {
  request.catch(() => undefined);
}

function sameRow(a: SealedRow | undefined, b: SealedRow | undefined): boolean {
  return a === undefined || b === undefined ? a === b : bytesEqual(a.v, b.v);
}

class CursorMoved extends Error {}

async function openDatabase(factory: IDBFactory, name: string): Promise<IDBPDatabase<QpqDB>> {
  // idb's openDB always uses the global indexedDB; opening by hand lets callers inject a factory.
  const request = factory.open(name, DB_VERSION);
  request.addEventListener("upgradeneeded", (event) => {
    const db = wrap(request.result) as unknown as IDBPDatabase<QpqDB>;
    const tx = wrap(request.transaction!) as unknown as UpgradeTx;
    // A loop, not a switch: each step runs exactly once, in order, whatever version we start from.
    for (const step of migrations) if (step.version > event.oldVersion) step.apply(db, tx);
  });
  try {
    return (await wrap(request)) as unknown as IDBPDatabase<QpqDB>;
  } catch (err) {
    if (err instanceof DOMException && err.name === "VersionError") {
      throw new Error(`local data was written by a newer version of quicproquo (schema > ${DB_VERSION})`);
    }
    throw err;
  }
}

export interface IdbClientStoreOptions {
  username: string;
  /** OPAQUE export key of this login; the same password always yields the same one. */
  exportKey: Uint8Array;
  /** Defaults to the global indexedDB; tests pass fake-indexeddb. */
  indexedDB?: IDBFactory;
}

export class IdbClientStore implements ClientStore {
  private closed = false;
  /** Serializes this instance's applyEnvelope calls so they never race each other on the cursor. */
  private applying: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: IDBPDatabase<QpqDB>,
    private readonly name: string,
    private readonly key: CryptoKey,
    private readonly blindingKey: CryptoKey,
  ) {
    // Another tab upgrading the schema or forgetting this device must not be blocked by us.
    db.addEventListener("versionchange", () => this.close());
  }

  /** Opens (creating if needed) the account's database; rejects with AtRestDecryptError on a wrong key. */
  static async open(opts: IdbClientStoreOptions): Promise<IdbClientStore> {
    const factory = opts.indexedDB ?? globalThis.indexedDB;
    if (!factory) throw new Error("IndexedDB is not available");
    const [key, blindingKey, name] = await Promise.all([
      deriveStorageKey(opts.exportKey, opts.username),
      deriveBlindingKey(opts.exportKey, opts.username),
      accountDatabaseName(opts.username),
    ]);
    const store = new IdbClientStore(await openDatabase(factory, name), name, key, blindingKey);
    try {
      await store.checkKey();
    } catch (err) {
      store.close();
      throw err;
    }
    return store;
  }

  /** "Forget this device": removes the account's database; open stores of it are closed first. */
  static async deleteAccountData(username: string, indexedDB?: IDBFactory): Promise<void> {
    const factory = indexedDB ?? globalThis.indexedDB;
    await wrap(factory.deleteDatabase(await accountDatabaseName(username)));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  async getAccount() {
    const row = await this.read().get("account", ACCOUNT);
    return row && this.unseal<AccountRecord>("account", row);
  }

  async putAccount(account: AccountRecord) {
    const row = await this.sealRow("account", ACCOUNT, account);
    await this.write(["account"], async (tx) => issue(tx.objectStore("account").put(row)));
  }

  async putKeyPackages(records: KeyPackageRecord[]) {
    const rows = await Promise.all(
      records.map(async (r) => this.sealRow("keyPackages", await this.keyPackageKey(r.ref), r)),
    );
    await this.write(["keyPackages"], async (tx) => {
      for (const row of rows) issue(tx.objectStore("keyPackages").put(row));
    });
  }

  async getKeyPackage(ref: string) {
    const row = await this.read().get("keyPackages", await this.keyPackageKey(ref));
    return row && this.unseal<KeyPackageRecord>("keyPackages", row);
  }

  async listKeyPackages() {
    const rows = await this.read().getAll("keyPackages");
    return Promise.all(rows.map((row) => this.unseal<KeyPackageRecord>("keyPackages", row)));
  }

  async deleteKeyPackages(refs: string[]) {
    const keys = await Promise.all(refs.map((ref) => this.keyPackageKey(ref)));
    await this.write(["keyPackages"], async (tx) => {
      for (const k of keys) issue(tx.objectStore("keyPackages").delete(k));
    });
  }

  async getGroup(id: string) {
    const row = await this.read().get("groups", await this.groupKey(id));
    return row && this.unseal<GroupRecord>("groups", row);
  }

  async listGroups() {
    const rows = await this.read().getAll("groups");
    return Promise.all(rows.map((row) => this.unseal<GroupRecord>("groups", row)));
  }

  async putGroup(group: GroupRecord) {
    const row = await this.sealRow("groups", await this.groupKey(group.id), group);
    await this.write(["groups"], async (tx) => issue(tx.objectStore("groups").put(row)));
  }

  async getContact(username: string) {
    const row = await this.read().get("contacts", await this.contactKey(username));
    return row && this.unseal<ContactRecord>("contacts", row);
  }

  async putContact(contact: ContactRecord) {
    const row = await this.sealRow("contacts", await this.contactKey(contact.username), contact);
    await this.write(["contacts"], async (tx) => issue(tx.objectStore("contacts").put(row)));
  }

  async putMessage(message: MessageRecord) {
    const row = await this.sealMessage(message);
    await this.write(["messages"], (tx) => putMessageRow(tx.objectStore("messages"), row));
  }

  async getMessage(groupId: string, id: string) {
    const row = await this.read().get("messages", await this.messageKey(groupId, id));
    if (!row) return undefined;
    const message = await this.unseal<MessageRecord>("messages", row);
    if (message.groupId !== groupId || message.id !== id)
      throw new AtRestDecryptError("message row does not belong to its key");
    return message;
  }

  async listMessages(groupId: string) {
    const g = await this.groupKey(groupId);
    const range = IDBKeyRange.bound([g, -Infinity, -Infinity], [g, Infinity, Infinity]);
    const rows = await this.read().getAllFromIndex("messages", "byGroup", range);
    return Promise.all(
      rows.map(async (row) => {
        const message = await this.unseal<MessageRecord>("messages", row);
        // g is outside the AAD (it is only an index); a row moved to another group must not show up.
        if (message.groupId !== groupId)
          throw new AtRestDecryptError("message row does not belong to its group");
        return message;
      }),
    );
  }

  async listPending() {
    const rows = await this.read().getAll("pending");
    return Promise.all(rows.map((row) => this.unseal<PendingRecord>("pending", row)));
  }

  async getCursor() {
    const row = await this.read().get("meta", CURSOR);
    return row ? this.unseal<number>("meta", row) : 0;
  }

  applyEnvelope(outcome: EnvelopeOutcome): Promise<void> {
    const run = this.applying.then(async () => {
      const locks = globalThis.navigator?.locks;
      if (locks) await locks.request(`${this.name}/apply`, () => this.applyNow(outcome));
      else await this.applyNow(outcome);
    });
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async applyNow(outcome: EnvelopeOutcome): Promise<void> {
    // All crypto happens here, before the transaction: awaiting WebCrypto inside it would let
    // IndexedDB auto-commit half of the outcome.
    const [groups, messages, addPending, removeKeyPackages] = await Promise.all([
      Promise.all(
        (outcome.groups ?? []).map(async (g) => this.sealRow("groups", await this.groupKey(g.id), g)),
      ),
      Promise.all((outcome.messages ?? []).map((m) => this.sealMessage(m))),
      Promise.all((outcome.addPending ?? []).map((p) => this.sealRow("pending", p.seq, p))),
      Promise.all((outcome.removeKeyPackages ?? []).map((ref) => this.keyPackageKey(ref))),
    ]);
    const stores: Store[] = ["meta", "groups", "messages", "pending", "keyPackages"];

    for (let attempt = 1; ; attempt++) {
      // The cursor is sealed too, so max(cursor, seq) is computed outside the transaction and checked
      // inside it: if the sealed cursor changed meanwhile (another tab), start over.
      const seen = await this.read().get("meta", CURSOR);
      const current = seen ? await this.unseal<number>("meta", seen) : 0;
      const cursorRow = outcome.seq > current ? await this.sealRow("meta", CURSOR, outcome.seq) : undefined;
      try {
        await this.write(stores, async (tx) => {
          if (cursorRow) {
            if (!sameRow(await tx.objectStore("meta").get(CURSOR), seen)) throw new CursorMoved();
            issue(tx.objectStore("meta").put(cursorRow));
          }
          for (const row of groups) issue(tx.objectStore("groups").put(row));
          for (const row of messages) await putMessageRow(tx.objectStore("messages"), row);
          for (const row of addPending) issue(tx.objectStore("pending").put(row));
          for (const seq of outcome.removePending ?? []) issue(tx.objectStore("pending").delete(seq));
          for (const k of removeKeyPackages) issue(tx.objectStore("keyPackages").delete(k));
        });
        return;
      } catch (err) {
        if (!(err instanceof CursorMoved) || attempt >= CURSOR_ATTEMPTS) throw err;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  private async checkKey(): Promise<void> {
    let row = await this.read().get("meta", KEY_CHECK);
    if (!row) {
      const fresh = await this.sealRow("meta", KEY_CHECK, KEY_CHECK_TEXT);
      try {
        // add, not put: if another tab created the database at the same moment, keep its record.
        await this.write(["meta"], async (tx) => issue(tx.objectStore("meta").add(fresh)));
        row = fresh;
      } catch {
        row = await this.read().get("meta", KEY_CHECK);
        if (!row) throw new Error("could not initialise local storage");
      }
    }
    let text: unknown;
    try {
      text = await this.unseal<unknown>("meta", row);
    } catch (err) {
      if (!(err instanceof AtRestDecryptError)) throw err;
    }
    if (text !== KEY_CHECK_TEXT) {
      throw new AtRestDecryptError(
        "cannot decrypt this device's stored data: wrong export key (password changed?) or corrupted data",
      );
    }
  }

  private read(): IDBPDatabase<QpqDB> {
    if (this.closed) throw new Error("IdbClientStore is closed");
    return this.db;
  }

  /** One readwrite transaction; aborted as a whole if body throws, resolved only once committed. */
  private async write<const N extends Store[]>(
    names: N,
    body: (tx: IDBPTransaction<QpqDB, N, "readwrite">) => Promise<unknown>,
  ): Promise<void> {
    const tx = this.read().transaction(names, "readwrite", { durability: "strict" });
    const done = tx.done;
    done.catch(() => undefined); // observed below, or superseded by body's error
    try {
      await body(tx);
    } catch (err) {
      try {
        tx.abort();
      } catch {
        // Already aborted by a failed request.
      }
      throw err;
    }
    await done;
  }

  private groupKey(id: string) {
    return blindId(this.blindingKey, `group\u0000${id}`);
  }

  private contactKey(username: string) {
    return blindId(this.blindingKey, `contact\u0000${username}`);
  }

  private keyPackageKey(ref: string) {
    return blindId(this.blindingKey, `keyPackage\u0000${ref}`);
  }

  private async sealRow<K extends string | number>(
    store: Store,
    k: K,
    value: unknown,
  ): Promise<SealedRow<K>> {
    return { k, v: await seal(this.key, encodeRecord(value), aad(store, k)) };
  }

  private async unseal<T>(store: Store, row: SealedRow<string | number>): Promise<T> {
    return decodeRecord<T>(await open(this.key, row.v, aad(store, row.k)));
  }

  private async sealMessage(m: MessageRecord): Promise<Omit<MessageRow, "n">> {
    const k = await this.messageKey(m.groupId, m.id);
    const [g, s, sealed] = await Promise.all([
      this.groupKey(m.groupId),
      blindId(this.blindingKey, `sender\u0000${JSON.stringify([m.groupId, m.id, m.sender])}`),
      this.sealRow("messages", k, m),
    ]);
    return { ...sealed, g, t: m.receivedAtMs, s };
  }

  private messageKey(groupId: string, id: string) {
    // JSON.stringify keeps the pair unambiguous whatever characters the ids contain.
    return blindId(this.blindingKey, `message\u0000${JSON.stringify([groupId, id])}`);
  }
}

/**
 * Puts a message, keeping its place among equal receive times if it already exists; keeps the stored
 * one when the put comes from another sender (sender-chosen ids must not let one member overwrite
 * another's message).
 */
async function putMessageRow<TX extends ArrayLike<Store>>(
  store: IDBPObjectStore<QpqDB, TX, "messages", "readwrite">,
  row: Omit<MessageRow, "n">,
): Promise<void> {
  const existing = await store.get(row.k);
  if (existing?.s !== undefined && existing.s !== row.s) return;
  let n: number;
  if (existing && existing.g === row.g && existing.t === row.t) {
    n = existing.n;
  } else {
    const range = IDBKeyRange.bound([row.g, row.t, -Infinity], [row.g, row.t, Infinity]);
    const last = await store.index("byGroup").openCursor(range, "prev");
    n = last ? last.value.n + 1 : 0;
  }
  issue(store.put({ ...row, n }));
}
