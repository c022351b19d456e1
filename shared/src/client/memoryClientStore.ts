import type {
  AccountRecord,
  ClientStore,
  ContactRecord,
  EnvelopeOutcome,
  GroupRecord,
  KeyPackageRecord,
  MessageRecord,
  PendingRecord,
} from "./storage.ts";

/** structuredClone keeps Uint8Arrays and isolates callers from stored records, like a real backend. */
const copy = <T>(value: T): T => structuredClone(value);

/** A message with its insertion number: the tie-breaker for equal receive times, kept on overwrite. */
export interface NumberedMessage {
  n: number;
  record: MessageRecord;
}

/** Everything a MemoryClientStore holds, as plain data (what a persisting subclass writes out). */
export interface ClientStoreSnapshot {
  account?: AccountRecord;
  keyPackages: KeyPackageRecord[];
  groups: GroupRecord[];
  messages: NumberedMessage[];
  pending: PendingRecord[];
  contacts: ContactRecord[];
  cursor: number;
  nextMessage: number;
}

/**
 * In-memory ClientStore: for tests and for clients that should leave no trace (--ephemeral), and the
 * base of stores that keep the whole state in memory and persist it as one snapshot (the CLI's file
 * store): every change ends in `changed()`, which such a store overrides to write.
 */
export class MemoryClientStore implements ClientStore {
  private account: AccountRecord | undefined;
  private readonly keyPackages = new Map<string, KeyPackageRecord>();
  private readonly groups = new Map<string, GroupRecord>();
  /** Keyed by "groupId/messageId". */
  protected readonly messages = new Map<string, NumberedMessage>();
  private readonly pending = new Map<number, PendingRecord>();
  private readonly contacts = new Map<string, ContactRecord>();
  private cursor = 0;
  protected nextMessage = 1;

  /** Called after every change; resolves once the change is as durable as this store makes it. */
  protected changed(): Promise<void> {
    return Promise.resolve();
  }

  async getAccount() {
    return copy(this.account);
  }

  async putAccount(account: AccountRecord) {
    this.account = copy(account);
    return this.changed();
  }

  async putKeyPackages(records: KeyPackageRecord[]) {
    for (const r of records) this.keyPackages.set(r.ref, copy(r));
    return this.changed();
  }

  async getKeyPackage(ref: string) {
    return copy(this.keyPackages.get(ref));
  }

  async listKeyPackages() {
    return [...this.keyPackages.values()].map(copy);
  }

  async deleteKeyPackages(refs: string[]) {
    for (const ref of refs) this.keyPackages.delete(ref);
    return this.changed();
  }

  async getGroup(id: string) {
    return copy(this.groups.get(id));
  }

  async listGroups() {
    return [...this.groups.values()].map(copy);
  }

  async putGroup(group: GroupRecord) {
    this.groups.set(group.id, copy(group));
    return this.changed();
  }

  async putMessage(message: MessageRecord) {
    this.setMessage(message);
    return this.changed();
  }

  async getMessage(groupId: string, id: string) {
    return copy(this.messages.get(messageKey({ groupId, id }))?.record);
  }

  async listMessages(groupId: string) {
    return [...this.messages.values()]
      .filter((m) => m.record.groupId === groupId)
      .sort((a, b) => a.record.receivedAtMs - b.record.receivedAtMs || a.n - b.n)
      .map((m) => copy(m.record));
  }

  async listPending() {
    return [...this.pending.values()].sort((a, b) => a.seq - b.seq).map(copy);
  }

  async getContact(username: string) {
    return copy(this.contacts.get(username));
  }

  async putContact(contact: ContactRecord) {
    this.contacts.set(contact.username, copy(contact));
    return this.changed();
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
    return this.changed();
  }

  /** The state as plain data, sharing the stored objects: serialize it before the next change. */
  protected snapshot(): ClientStoreSnapshot {
    return {
      account: this.account,
      keyPackages: [...this.keyPackages.values()],
      groups: [...this.groups.values()],
      messages: [...this.messages.values()],
      pending: [...this.pending.values()],
      contacts: [...this.contacts.values()],
      cursor: this.cursor,
      nextMessage: this.nextMessage,
    };
  }

  /** Replaces nothing: fills an empty store from a snapshot (taking ownership of its objects). */
  protected load(snapshot: ClientStoreSnapshot): void {
    this.account = snapshot.account;
    for (const k of snapshot.keyPackages) this.keyPackages.set(k.ref, k);
    for (const g of snapshot.groups) this.groups.set(g.id, g);
    for (const m of snapshot.messages) this.messages.set(messageKey(m.record), m);
    for (const p of snapshot.pending) this.pending.set(p.seq, p);
    for (const c of snapshot.contacts) this.contacts.set(c.username, c);
    this.cursor = snapshot.cursor;
    this.nextMessage = snapshot.nextMessage;
  }

  private setMessage(message: MessageRecord): void {
    const key = messageKey(message);
    const existing = this.messages.get(key);
    if (existing && existing.record.sender !== message.sender) return;
    const n = existing?.n ?? this.nextMessage++;
    this.messages.set(key, { n, record: copy(message) });
  }
}

function messageKey(message: Pick<MessageRecord, "groupId" | "id">): string {
  return `${message.groupId}/${message.id}`;
}
