/**
 * An in-memory Store for fast tests. Same observable behaviour as SqliteStore (both pass
 * storeContract.ts), nothing survives close. Byte arrays are copied on the way in and out.
 */
import { compareBytes, TOKEN_EPOCHS_KEPT } from "./channelRules.ts";
import { envelopeBytes } from "../delivery/frameBudget.ts";
import { MemoryDeviceStore } from "./memoryDevices.ts";
import type {
  ChannelCommit,
  ChannelRecord,
  ClaimedKeyPackage,
  CommitOutcome,
  EnvelopePage,
  HybridKeyRecord,
  NewEnvelope,
  NewChannel,
  PageLimits,
  SessionRecord,
  Store,
  StoredEnvelope,
  UserRecord,
} from "./types.ts";

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

function copy(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

interface KeyPackageSlot {
  /** Single-use KeyPackages, oldest first. */
  singleUse: Uint8Array[];
  lastResort: Uint8Array | undefined;
}

interface Queue {
  lastSeq: number;
  /** Ascending by seq. */
  envelopes: StoredEnvelope[];
}

interface Channel {
  record: ChannelRecord;
  /** identity key hex -> key */
  members: Map<string, Uint8Array>;
  /** epoch -> token hash */
  tokens: Map<number, Uint8Array>;
}

export class MemoryStore extends MemoryDeviceStore implements Store {
  private readonly channels = new Map<string, Channel>();
  private readonly settings = new Map<string, string>();
  private readonly usersByName = new Map<string, UserRecord>();
  /** identity key hex -> username */
  private readonly usernameByIdentity = new Map<string, string>();
  /** token hash hex -> session */
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly keyPackages = new Map<string, KeyPackageSlot>();
  private readonly queues = new Map<string, Queue>();
  private readonly hybridKeys = new Map<string, HybridKeyRecord>();
  private closed = false;

  protected live(): void {
    if (this.closed) throw new Error("store is closed");
  }

  protected userExists(username: string): boolean {
    return this.usersByName.has(username);
  }

  protected usernameOfIdentity(identityKey: Uint8Array): string | undefined {
    return this.usernameByIdentity.get(hex(identityKey));
  }

  protected dropDeviceData(deviceKey: Uint8Array): Uint8Array[] {
    const ended: Uint8Array[] = [];
    for (const [key, s] of this.sessions) {
      if (compareBytes(s.deviceKey, deviceKey) !== 0) continue;
      this.sessions.delete(key);
      ended.push(copy(s.tokenHash));
    }
    const queue = this.queues.get(hex(deviceKey));
    if (queue) queue.envelopes = [];
    this.keyPackages.delete(hex(deviceKey));
    return ended;
  }

  async getSetting(key: string): Promise<string | undefined> {
    this.live();
    return this.settings.get(key);
  }

  async initSetting(key: string, value: string): Promise<string> {
    this.live();
    const existing = this.settings.get(key);
    if (existing !== undefined) return existing;
    this.settings.set(key, value);
    return value;
  }

  async createUser(user: UserRecord): Promise<boolean> {
    this.live();
    const id = hex(user.identityKey);
    if (this.usersByName.has(user.username) || this.usernameByIdentity.has(id)) return false;
    // A device key is public: as someone's identity key it would name that device's queue.
    if (this.isDevice(user.identityKey)) return false;
    this.usersByName.set(user.username, { ...user, identityKey: copy(user.identityKey) });
    this.usernameByIdentity.set(id, user.username);
    return true;
  }

  async getUserByName(username: string): Promise<UserRecord | undefined> {
    this.live();
    const u = this.usersByName.get(username);
    return u && { ...u, identityKey: copy(u.identityKey) };
  }

  async getUserByIdentity(identityKey: Uint8Array): Promise<UserRecord | undefined> {
    this.live();
    const name = this.usernameByIdentity.get(hex(identityKey));
    return name === undefined ? undefined : this.getUserByName(name);
  }

  async createSession(session: SessionRecord): Promise<void> {
    this.live();
    const key = hex(session.tokenHash);
    if (!this.usersByName.has(session.username)) {
      throw new Error(`cannot create a session for unknown user ${session.username}`);
    }
    if (this.sessions.has(key)) throw new Error("session token hash already exists");
    this.sessions.set(key, {
      ...session,
      tokenHash: copy(session.tokenHash),
      identityKey: copy(session.identityKey),
      deviceKey: copy(session.deviceKey),
    });
  }

  async setSessionDevice(tokenHash: Uint8Array, deviceKey: Uint8Array): Promise<boolean> {
    this.live();
    const s = this.sessions.get(hex(tokenHash));
    if (!s) return false;
    s.deviceKey = copy(deviceKey);
    return true;
  }

  async getSession(tokenHash: Uint8Array, nowMs: number): Promise<SessionRecord | undefined> {
    this.live();
    const s = this.sessions.get(hex(tokenHash));
    if (s === undefined || s.expiresAtMs <= nowMs) return undefined;
    return {
      ...s,
      tokenHash: copy(s.tokenHash),
      identityKey: copy(s.identityKey),
      deviceKey: copy(s.deviceKey),
    };
  }

  async deleteSession(tokenHash: Uint8Array): Promise<void> {
    this.live();
    this.sessions.delete(hex(tokenHash));
  }

  async countSessions(username: string, nowMs: number): Promise<number> {
    this.live();
    let n = 0;
    for (const s of this.sessions.values()) if (s.username === username && s.expiresAtMs > nowMs) n++;
    return n;
  }

  async trimSessions(username: string, keep: number, nowMs: number): Promise<Uint8Array[]> {
    this.live();
    const newestFirst = [...this.sessions.entries()]
      .filter(([, s]) => s.username === username && s.expiresAtMs > nowMs)
      .sort(
        ([keyA, a], [keyB, b]) => b.createdAtMs - a.createdAtMs || (keyA < keyB ? 1 : keyA > keyB ? -1 : 0),
      );
    const trimmed = newestFirst.slice(keep);
    for (const [key] of trimmed) this.sessions.delete(key);
    return trimmed.map(([, s]) => copy(s.tokenHash));
  }

  async deleteExpiredSessions(nowMs: number): Promise<number> {
    this.live();
    let n = 0;
    for (const [key, s] of this.sessions) {
      if (s.expiresAtMs <= nowMs) {
        this.sessions.delete(key);
        n++;
      }
    }
    return n;
  }

  async addKeyPackages(
    identityKey: Uint8Array,
    keyPackages: Uint8Array[],
    lastResort?: Uint8Array,
  ): Promise<number> {
    this.live();
    const id = hex(identityKey);
    if (!this.usernameByIdentity.has(id) && !this.isDevice(identityKey)) {
      throw new Error("cannot add KeyPackages for a key that is neither a user's nor a device's");
    }
    let slot = this.keyPackages.get(id);
    if (slot === undefined) {
      slot = { singleUse: [], lastResort: undefined };
      this.keyPackages.set(id, slot);
    }
    for (const kp of keyPackages) slot.singleUse.push(copy(kp));
    if (lastResort !== undefined) slot.lastResort = copy(lastResort);
    return slot.singleUse.length;
  }

  async claimKeyPackage(identityKey: Uint8Array): Promise<ClaimedKeyPackage | undefined> {
    this.live();
    const slot = this.keyPackages.get(hex(identityKey));
    if (slot === undefined) return undefined;
    const single = slot.singleUse.shift();
    if (single !== undefined) return { keyPackage: single, lastResort: false };
    if (slot.lastResort !== undefined) return { keyPackage: copy(slot.lastResort), lastResort: true };
    return undefined;
  }

  async setHybridKey(identityKey: Uint8Array, key: HybridKeyRecord): Promise<void> {
    this.live();
    const id = hex(identityKey);
    if (!this.usernameByIdentity.has(id))
      throw new Error("cannot store a hybrid key for an unknown identity");
    this.hybridKeys.set(id, { publicKey: copy(key.publicKey), signature: copy(key.signature) });
  }

  async getHybridKey(identityKey: Uint8Array): Promise<HybridKeyRecord | undefined> {
    this.live();
    const key = this.hybridKeys.get(hex(identityKey));
    return key && { publicKey: copy(key.publicKey), signature: copy(key.signature) };
  }

  async countKeyPackages(identityKey: Uint8Array): Promise<number> {
    this.live();
    return this.keyPackages.get(hex(identityKey))?.singleUse.length ?? 0;
  }

  async enqueue(envelopes: NewEnvelope[]): Promise<number[]> {
    this.live();
    return this.append(envelopes);
  }

  /** Synchronous, so acceptCommit checks and writes without another call slipping in between. */
  private append(envelopes: NewEnvelope[]): number[] {
    // A payload given for several envelopes (a fan-out) is copied and kept once, as SqliteStore does.
    const copies = new Map<Uint8Array, Uint8Array>();
    const once = (payload: Uint8Array): Uint8Array => {
      let kept = copies.get(payload);
      if (kept === undefined) copies.set(payload, (kept = copy(payload)));
      return kept;
    };
    return envelopes.map((e) => {
      const key = hex(e.recipientKey);
      let queue = this.queues.get(key);
      if (queue === undefined) {
        queue = { lastSeq: 0, envelopes: [] };
        this.queues.set(key, queue);
      }
      queue.lastSeq += 1;
      queue.envelopes.push({
        seq: queue.lastSeq,
        channelId: copy(e.channelId),
        payload: once(e.payload),
        enqueuedAtMs: e.enqueuedAtMs,
      });
      return queue.lastSeq;
    });
  }

  async fetch(
    recipientKey: Uint8Array,
    afterSeq: number,
    limit: number,
    channelId?: Uint8Array,
  ): Promise<StoredEnvelope[]> {
    this.live();
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`invalid fetch limit: ${limit}`);
    const queue = this.queues.get(hex(recipientKey));
    if (queue === undefined) return [];
    let list = queue.envelopes.slice(firstAbove(queue.envelopes, afterSeq));
    if (channelId !== undefined) list = list.filter((e) => compareBytes(e.channelId, channelId) === 0);
    return list.slice(0, limit).map((e) => ({
      ...e,
      channelId: copy(e.channelId),
      payload: copy(e.payload),
    }));
  }

  async fetchPage(recipientKey: Uint8Array, afterSeq: number, page: PageLimits): Promise<EnvelopePage> {
    this.live();
    if (!Number.isSafeInteger(page.limit) || page.limit < 1) {
      throw new RangeError(`invalid page limit: ${page.limit}`);
    }
    if (!(page.maxBytes >= 0)) throw new RangeError(`invalid page byte budget: ${page.maxBytes}`);
    const queue = this.queues.get(hex(recipientKey));
    let list = queue ? queue.envelopes.slice(firstAbove(queue.envelopes, afterSeq)) : [];
    if (page.channelId !== undefined) {
      const channelId = page.channelId;
      list = list.filter((e) => compareBytes(e.channelId, channelId) === 0);
    }
    let count = 0;
    let used = 0;
    for (const e of list) {
      used += envelopeBytes(e.channelId.length, e.payload.length);
      if (count === page.limit || (count > 0 && used > page.maxBytes)) break;
      count++;
    }
    const envelopes = await this.fetch(recipientKey, afterSeq, count, page.channelId);
    return { envelopes, more: list.length > count };
  }

  async ack(recipientKey: Uint8Array, upToSeq: number): Promise<number> {
    this.live();
    const queue = this.queues.get(hex(recipientKey));
    if (queue === undefined) return 0;
    const n = firstAbove(queue.envelopes, upToSeq);
    queue.envelopes.splice(0, n);
    return n;
  }

  async queueDepth(recipientKey: Uint8Array): Promise<number> {
    this.live();
    return this.queues.get(hex(recipientKey))?.envelopes.length ?? 0;
  }

  async headSeq(recipientKey: Uint8Array): Promise<number> {
    this.live();
    return this.queues.get(hex(recipientKey))?.lastSeq ?? 0;
  }

  async createChannel(c: NewChannel): Promise<boolean> {
    this.live();
    const groupTaken = [...this.channels.values()].some(
      (ch) => compareBytes(ch.record.groupId, c.groupId) === 0,
    );
    if (groupTaken || this.channels.has(hex(c.channelId))) return false;
    const channel = this.insertChannel(
      {
        channelId: c.channelId,
        groupId: c.groupId,
        epoch: c.epoch,
        createdAtMs: c.createdAtMs,
      },
      c.members,
    );
    if (c.tokenHash.length > 0) channel.tokens.set(c.epoch, copy(c.tokenHash));
    return true;
  }

  private insertChannel(record: Omit<ChannelRecord, "lastCommitHash">, members: Uint8Array[]): Channel {
    const id = hex(record.channelId);
    if (this.channels.has(id)) throw new Error("channel id exists");
    const channel: Channel = {
      record: {
        ...record,
        channelId: copy(record.channelId),
        groupId: copy(record.groupId),
        lastCommitHash: new Uint8Array(0),
      },
      members: new Map(members.map((m) => [hex(m), copy(m)])),
      tokens: new Map(),
    };
    this.channels.set(id, channel);
    return channel;
  }

  async getChannel(channelId: Uint8Array): Promise<ChannelRecord | undefined> {
    this.live();
    const r = this.channels.get(hex(channelId))?.record;
    return (
      r && {
        ...r,
        channelId: copy(r.channelId),
        groupId: copy(r.groupId),
        lastCommitHash: copy(r.lastCommitHash),
      }
    );
  }

  async getChannelMembers(channelId: Uint8Array): Promise<Uint8Array[]> {
    this.live();
    return [...(this.channels.get(hex(channelId))?.members.values() ?? [])].map(copy);
  }

  async isChannelMember(channelId: Uint8Array, identityKey: Uint8Array): Promise<boolean> {
    this.live();
    return this.channels.get(hex(channelId))?.members.has(hex(identityKey)) ?? false;
  }

  async listChannels(identityKey: Uint8Array): Promise<Uint8Array[]> {
    this.live();
    const key = hex(identityKey);
    return [...this.channels.values()]
      .filter((c) => c.members.has(key))
      .map((c) => copy(c.record.channelId))
      .sort(compareBytes);
  }

  async getTokenHash(channelId: Uint8Array, epoch: number): Promise<Uint8Array | undefined> {
    this.live();
    const hash = this.channels.get(hex(channelId))?.tokens.get(epoch);
    return hash && copy(hash);
  }

  async acceptCommit(c: ChannelCommit): Promise<CommitOutcome> {
    this.live();
    const channel = this.channels.get(hex(c.channelId));
    if (channel === undefined) return { status: "conflict", epoch: -1 };
    const record = channel.record;
    if (c.epoch === record.epoch - 1 && compareBytes(record.lastCommitHash, c.commitHash) === 0) {
      return { status: "duplicate" };
    }
    if (c.epoch !== record.epoch) return { status: "conflict", epoch: record.epoch };
    const seqs = this.append(c.envelopes);
    for (const key of c.remove) channel.members.delete(hex(key));
    for (const key of c.add) channel.members.set(hex(key), copy(key));
    record.epoch = c.epoch + 1;
    record.lastCommitHash = copy(c.commitHash);
    if (c.nextTokenHash.length > 0) channel.tokens.set(record.epoch, copy(c.nextTokenHash));
    for (const epoch of channel.tokens.keys()) {
      if (epoch < record.epoch - TOKEN_EPOCHS_KEPT + 1) channel.tokens.delete(epoch);
    }
    return { status: "accepted", seqs };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Index of the first envelope with seq > after (list ascending by seq). */
function firstAbove(list: StoredEnvelope[], after: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid]?.seq ?? Infinity) > after) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
