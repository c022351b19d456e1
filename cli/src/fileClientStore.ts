/**
 * The CLI's ClientStore: the whole device state in one file, sealed with AES-256-GCM under a key
 * derived from the OPAQUE export key, and replaced atomically on every change. One file makes every
 * change (including applyEnvelope with its cursor) trivially atomic; the cost is rewriting the file
 * per change, which is fine for one person's terminal client. Changes made while a write is running
 * are coalesced into the next write, and each promise resolves only once its change is on disk.
 *
 * The file is bound to its username by the AES-GCM associated data, so a state file copied into
 * another account's directory does not open.
 */
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
import { decodeRecord, encodeRecord, open, seal } from "@qpq/shared/crypto";
import { bytesEqual, utf8 } from "@qpq/shared/bytes";
import { readFileIfExists, writeFileAtomic } from "./atomicFile.ts";

const MAGIC = utf8("qpqs");
const FORMAT_VERSION = 1;

/** A message with its insertion number: the tie-breaker for equal receive times, kept on overwrite. */
interface StoredMessage {
  n: number;
  record: MessageRecord;
}

interface Snapshot {
  account?: AccountRecord;
  keyPackages: KeyPackageRecord[];
  groups: GroupRecord[];
  messages: StoredMessage[];
  pending: PendingRecord[];
  contacts: ContactRecord[];
  cursor: number;
  nextMessage: number;
  /** CLI bookkeeping that must be as private as the messages (e.g. what recv already printed). */
  meta: Record<string, unknown>;
}

export class StateFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StateFileError";
  }
}

const copy = <T>(value: T): T => structuredClone(value);

export interface FileClientStoreOptions {
  path: string;
  key: CryptoKey;
  username: string;
}

export class FileClientStore implements ClientStore {
  private account: AccountRecord | undefined;
  private readonly keyPackages = new Map<string, KeyPackageRecord>();
  private readonly groups = new Map<string, GroupRecord>();
  /** groupId -> message id -> message. */
  private readonly messages = new Map<string, Map<string, StoredMessage>>();
  private readonly pending = new Map<number, PendingRecord>();
  private readonly contacts = new Map<string, ContactRecord>();
  private readonly meta = new Map<string, unknown>();
  private cursor = 0;
  private nextMessage = 1;
  private queued: Promise<void> | undefined;
  private chain: Promise<void> = Promise.resolve();

  private constructor(private readonly opts: FileClientStoreOptions) {}

  /** Opens the state file, or starts empty when there is none yet (nothing is written until a change). */
  static async open(opts: FileClientStoreOptions): Promise<FileClientStore> {
    const store = new FileClientStore(opts);
    const bytes = await readFileIfExists(opts.path);
    if (bytes) store.load(await decryptState(bytes, opts));
    return store;
  }

  /** Whether a state file exists at path (without decrypting it). */
  static async exists(path: string): Promise<boolean> {
    return (await readFileIfExists(path)) !== undefined;
  }

  /** Waits for every change made so far to reach the disk. */
  flush(): Promise<void> {
    return this.queued ?? this.chain;
  }

  async getAccount() {
    return copy(this.account);
  }

  async putAccount(account: AccountRecord) {
    this.account = copy(account);
    return this.persist();
  }

  async putKeyPackages(records: KeyPackageRecord[]) {
    for (const r of records) this.keyPackages.set(r.ref, copy(r));
    return this.persist();
  }

  async getKeyPackage(ref: string) {
    return copy(this.keyPackages.get(ref));
  }

  async listKeyPackages() {
    return [...this.keyPackages.values()].map(copy);
  }

  async deleteKeyPackages(refs: string[]) {
    for (const ref of refs) this.keyPackages.delete(ref);
    return this.persist();
  }

  async getGroup(id: string) {
    return copy(this.groups.get(id));
  }

  async listGroups() {
    return [...this.groups.values()].map(copy);
  }

  async putGroup(group: GroupRecord) {
    this.groups.set(group.id, copy(group));
    return this.persist();
  }

  async putMessage(message: MessageRecord) {
    this.setMessage(message);
    return this.persist();
  }

  async listMessages(groupId: string) {
    return this.sortedMessages(groupId).map((m) => copy(m.record));
  }

  /**
   * Messages of every conversation inserted after the given insertion number, in insertion order,
   * with the number to pass next time: how `qpq recv` prints only what it has not printed before.
   */
  async messagesAfter(n: number): Promise<{ messages: MessageRecord[]; upTo: number }> {
    const found: StoredMessage[] = [];
    for (const byId of this.messages.values()) for (const m of byId.values()) if (m.n > n) found.push(m);
    found.sort((a, b) => a.n - b.n);
    return { messages: found.map((m) => copy(m.record)), upTo: Math.max(n, this.nextMessage - 1) };
  }

  async listPending() {
    return [...this.pending.values()].sort((a, b) => a.seq - b.seq).map(copy);
  }

  async getContact(username: string) {
    return copy(this.contacts.get(username));
  }

  async putContact(contact: ContactRecord) {
    this.contacts.set(contact.username, copy(contact));
    return this.persist();
  }

  async getCursor() {
    return this.cursor;
  }

  async applyEnvelope(outcome: EnvelopeOutcome) {
    for (const g of outcome.groups ?? []) this.groups.set(g.id, copy(g));
    for (const m of outcome.messages ?? []) this.setMessage(m);
    for (const p of outcome.addPending ?? []) this.pending.set(p.seq, copy(p));
    for (const seq of outcome.removePending ?? []) this.pending.delete(seq);
    for (const ref of outcome.removeKeyPackages ?? []) this.keyPackages.delete(ref);
    this.cursor = Math.max(this.cursor, outcome.seq);
    return this.persist();
  }

  getMeta<T>(key: string): T | undefined {
    return copy(this.meta.get(key)) as T | undefined;
  }

  putMeta(key: string, value: unknown): Promise<void> {
    this.meta.set(key, copy(value));
    return this.persist();
  }

  private setMessage(message: MessageRecord): void {
    let byId = this.messages.get(message.groupId);
    if (!byId) this.messages.set(message.groupId, (byId = new Map()));
    const n = byId.get(message.id)?.n ?? this.nextMessage++;
    byId.set(message.id, { n, record: copy(message) });
  }

  private sortedMessages(groupId: string): StoredMessage[] {
    return [...(this.messages.get(groupId)?.values() ?? [])].sort(
      (a, b) => a.record.receivedAtMs - b.record.receivedAtMs || a.n - b.n,
    );
  }

  /**
   * Schedules a write of the current state. A write already waiting picks up this change too; a write
   * already running does not, so a new one is queued behind it.
   */
  private persist(): Promise<void> {
    if (!this.queued) {
      const next = this.chain.then(() => {
        this.queued = undefined;
        return this.write();
      });
      this.queued = next;
      this.chain = next.catch(() => undefined);
    }
    return this.queued;
  }

  private async write(): Promise<void> {
    // Serialized synchronously: changes made while sealing belong to the next write.
    const plaintext = encodeRecord(this.snapshot());
    const sealed = await seal(this.opts.key, plaintext, aad(this.opts.username));
    const file = new Uint8Array(MAGIC.length + 1 + sealed.length);
    file.set(MAGIC, 0);
    file[MAGIC.length] = FORMAT_VERSION;
    file.set(sealed, MAGIC.length + 1);
    await writeFileAtomic(this.opts.path, file);
  }

  private snapshot(): Snapshot {
    const messages: StoredMessage[] = [];
    for (const byId of this.messages.values()) messages.push(...byId.values());
    return {
      account: this.account,
      keyPackages: [...this.keyPackages.values()],
      groups: [...this.groups.values()],
      messages,
      pending: [...this.pending.values()],
      contacts: [...this.contacts.values()],
      cursor: this.cursor,
      nextMessage: this.nextMessage,
      meta: Object.fromEntries(this.meta),
    };
  }

  private load(snapshot: Snapshot): void {
    this.account = snapshot.account;
    for (const k of snapshot.keyPackages) this.keyPackages.set(k.ref, k);
    for (const g of snapshot.groups) this.groups.set(g.id, g);
    for (const m of snapshot.messages) {
      let byId = this.messages.get(m.record.groupId);
      if (!byId) this.messages.set(m.record.groupId, (byId = new Map()));
      byId.set(m.record.id, m);
    }
    for (const p of snapshot.pending) this.pending.set(p.seq, p);
    for (const c of snapshot.contacts) this.contacts.set(c.username, c);
    for (const [k, v] of Object.entries(snapshot.meta)) this.meta.set(k, v);
    this.cursor = snapshot.cursor;
    this.nextMessage = snapshot.nextMessage;
  }
}

function aad(username: string): string {
  return `quicproquo/v1/cli-state\u0000${username}`;
}

async function decryptState(bytes: Uint8Array, opts: FileClientStoreOptions): Promise<Snapshot> {
  if (bytes.length < MAGIC.length + 1 || !bytesEqual(bytes.subarray(0, MAGIC.length), MAGIC)) {
    throw new StateFileError(`${opts.path} is not a qpq state file`);
  }
  const version = bytes[MAGIC.length];
  if (version !== FORMAT_VERSION) {
    throw new StateFileError(`${opts.path} was written by another version of qpq (format ${version})`);
  }
  const plaintext = await open(opts.key, bytes.subarray(MAGIC.length + 1), aad(opts.username));
  return decodeRecord<Snapshot>(plaintext);
}
