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

/** In-memory ClientStore: for tests and for clients that should leave no trace (--ephemeral). */
export class MemoryClientStore implements ClientStore {
  private account: AccountRecord | undefined;
  private readonly keyPackages = new Map<string, KeyPackageRecord>();
  private readonly groups = new Map<string, GroupRecord>();
  private readonly messages = new Map<string, MessageRecord>();
  private readonly pending = new Map<number, PendingRecord>();
  private readonly contacts = new Map<string, ContactRecord>();
  private cursor = 0;

  async getAccount() {
    return copy(this.account);
  }

  async putAccount(account: AccountRecord) {
    this.account = copy(account);
  }

  async putKeyPackages(records: KeyPackageRecord[]) {
    for (const r of records) this.keyPackages.set(r.ref, copy(r));
  }

  async getKeyPackage(ref: string) {
    return copy(this.keyPackages.get(ref));
  }

  async listKeyPackages() {
    return [...this.keyPackages.values()].map(copy);
  }

  async deleteKeyPackages(refs: string[]) {
    for (const ref of refs) this.keyPackages.delete(ref);
  }

  async getGroup(id: string) {
    return copy(this.groups.get(id));
  }

  async listGroups() {
    return [...this.groups.values()].map(copy);
  }

  async putGroup(group: GroupRecord) {
    this.groups.set(group.id, copy(group));
  }

  async putMessage(message: MessageRecord) {
    this.messages.set(`${message.groupId}/${message.id}`, copy(message));
  }

  async listMessages(groupId: string) {
    return [...this.messages.values()]
      .filter((m) => m.groupId === groupId)
      .sort((a, b) => a.receivedAtMs - b.receivedAtMs)
      .map(copy);
  }

  async listPending() {
    return [...this.pending.values()].sort((a, b) => a.seq - b.seq).map(copy);
  }

  async getContact(username: string) {
    return copy(this.contacts.get(username));
  }

  async putContact(contact: ContactRecord) {
    this.contacts.set(contact.username, copy(contact));
  }

  async getCursor() {
    return this.cursor;
  }

  async applyEnvelope(outcome: EnvelopeOutcome) {
    for (const g of outcome.groups ?? []) this.groups.set(g.id, copy(g));
    for (const m of outcome.messages ?? []) this.messages.set(`${m.groupId}/${m.id}`, copy(m));
    for (const p of outcome.addPending ?? []) this.pending.set(p.seq, copy(p));
    for (const seq of outcome.removePending ?? []) this.pending.delete(seq);
    for (const ref of outcome.removeKeyPackages ?? []) this.keyPackages.delete(ref);
    this.cursor = Math.max(this.cursor, outcome.seq);
  }
}
