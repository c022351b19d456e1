/**
 * The gateway's persistent state behind one interface, so SQLite (the default), the in-memory store
 * for fast tests, and later PostgreSQL are interchangeable. Every implementation must pass
 * storeContract.ts. Methods are async even where an implementation is synchronous, so that a
 * networked database fits the same contract.
 */

export interface UserRecord {
  username: string;
  /** Ed25519 public key of the user's MLS credential; unique across users. */
  identityKey: Uint8Array;
  /** OPAQUE registration record (serenity-kit encodes it as base64url text). */
  opaqueRecord: string;
  createdAtMs: number;
}

export interface SessionRecord {
  /** SHA-256 of the session token: the token itself is never stored. */
  tokenHash: Uint8Array;
  username: string;
  identityKey: Uint8Array;
  /**
   * The device the session acts for (its queue, its KeyPackages), or empty until the session attached
   * one (docs/cryptography/devices.md).
   */
  deviceKey: Uint8Array;
  createdAtMs: number;
  expiresAtMs: number;
}

export interface ClaimedKeyPackage {
  keyPackage: Uint8Array;
  lastResort: boolean;
}

export interface NewEnvelope {
  recipientKey: Uint8Array;
  /** Empty, or a 16-byte channel id. */
  channelId: Uint8Array;
  payload: Uint8Array;
  enqueuedAtMs: number;
}

export interface StoredEnvelope {
  /** Per-recipient sequence number: starts at 1, strictly increasing, never reused. */
  seq: number;
  channelId: Uint8Array;
  payload: Uint8Array;
  enqueuedAtMs: number;
}

export interface PageLimits {
  /** At most this many envelopes (a positive integer). */
  limit: number;
  /** Their envelopeBytes add up to at most this, apart from a first envelope larger than it alone. */
  maxBytes: number;
  /** Only this channel's envelopes. */
  channelId?: Uint8Array;
}

export interface EnvelopePage {
  envelopes: StoredEnvelope[];
  more: boolean;
}

/**
 * A channel: who may send into it and receive from it. Every channel follows one MLS group (a
 * conversation of two is a group of two), whose membership changes only with an accepted commit.
 */
export interface ChannelRecord {
  channelId: Uint8Array;
  /** The MLS group id whose payloads it carries. */
  groupId: Uint8Array;
  /** The group's current epoch, the one the next accepted commit must be for. */
  epoch: number;
  /** SHA-256 of the commit that started the current epoch (empty before the first one). */
  lastCommitHash: Uint8Array;
  createdAtMs: number;
}

export interface NewChannel {
  channelId: Uint8Array;
  groupId: Uint8Array;
  /** Every member, the creator included; duplicates are ignored. */
  members: Uint8Array[];
  epoch: number;
  /** SHA-256 of the epoch's delivery token, or empty. */
  tokenHash: Uint8Array;
  createdAtMs: number;
}

export interface ChannelCommit {
  channelId: Uint8Array;
  /** The epoch the commit was made in; accepting it moves the channel to epoch + 1. */
  epoch: number;
  commitHash: Uint8Array;
  add: Uint8Array[];
  remove: Uint8Array[];
  /** Delivery-token hash for epoch + 1, or empty. */
  nextTokenHash: Uint8Array;
  /** The commit for each recipient (the members before the change, the committer excluded). */
  envelopes: NewEnvelope[];
}

export type CommitOutcome =
  | { status: "accepted"; seqs: number[] }
  /** The same commit (same hash) was accepted already: nothing stored again. */
  | { status: "duplicate" }
  /** Another commit took this epoch (or the epoch is not the channel's): nothing stored. */
  | { status: "conflict"; epoch: number };

export interface Store extends DeviceStore {
  /** Small named values the gateway keeps, such as the OPAQUE server setup. */
  getSetting(key: string): Promise<string | undefined>;
  /** Sets the value only if the key is unset; returns the value now stored (first writer wins). */
  initSetting(key: string, value: string): Promise<string>;

  /** Returns false (and changes nothing) when the username or identity key is taken. */
  createUser(user: UserRecord): Promise<boolean>;
  getUserByName(username: string): Promise<UserRecord | undefined>;
  getUserByIdentity(identityKey: Uint8Array): Promise<UserRecord | undefined>;

  /** Rejects when session.username is not a user or the token hash already exists. */
  createSession(session: SessionRecord): Promise<void>;
  /** Binds an existing session to a device; false when there is no such session. */
  setSessionDevice(tokenHash: Uint8Array, deviceKey: Uint8Array): Promise<boolean>;
  /** Returns the session only while it has not expired at nowMs (expiresAtMs > nowMs). */
  getSession(tokenHash: Uint8Array, nowMs: number): Promise<SessionRecord | undefined>;
  deleteSession(tokenHash: Uint8Array): Promise<void>;
  /** Unexpired sessions of the user at nowMs. */
  countSessions(username: string, nowMs: number): Promise<number>;
  /** Deletes sessions with expiresAtMs <= nowMs; returns how many. */
  deleteExpiredSessions(nowMs: number): Promise<number>;
  /**
   * Keeps the user's `keep` newest unexpired sessions (by createdAtMs; ties broken by token hash) and
   * deletes the older ones, returning their token hashes so their connections can be ended.
   */
  trimSessions(username: string, keep: number, nowMs: number): Promise<Uint8Array[]>;

  /**
   * Stores a batch of single-use KeyPackages and, when given, replaces the last-resort one.
   * Returns how many unclaimed single-use KeyPackages the identity now has. The identity is a device
   * key (an account's original device has the account key); the caller checks whose it is.
   */
  addKeyPackages(
    identityKey: Uint8Array,
    keyPackages: Uint8Array[],
    lastResort?: Uint8Array,
  ): Promise<number>;
  /**
   * Atomically removes and returns the oldest single-use KeyPackage; when none is left, returns the
   * last-resort one without removing it. Undefined when there is neither.
   */
  claimKeyPackage(identityKey: Uint8Array): Promise<ClaimedKeyPackage | undefined>;
  countKeyPackages(identityKey: Uint8Array): Promise<number>;

  /**
   * Appends envelopes durably in one transaction (group commit) and returns their sequence numbers in
   * input order. When this resolves the envelopes survive a crash of the process.
   */
  enqueue(envelopes: NewEnvelope[]): Promise<number[]>;
  /**
   * Envelopes with seq > afterSeq, oldest first, at most limit (a non-negative integer); with a
   * channelId only that channel's.
   */
  fetch(
    recipientKey: Uint8Array,
    afterSeq: number,
    limit: number,
    channelId?: Uint8Array,
  ): Promise<StoredEnvelope[]>;
  /**
   * A page of envelopes with seq > afterSeq, oldest first: at most `limit`, and only as many as fit
   * `maxBytes` counted with envelopeBytes (delivery/frameBudget.ts), except that the first envelope is
   * always included so that a page is never empty while envelopes wait. `more` says whether envelopes
   * beyond the page wait. Payloads past the cut are not read, so a page costs memory in proportion to
   * `maxBytes`, not to `limit`.
   */
  fetchPage(recipientKey: Uint8Array, afterSeq: number, page: PageLimits): Promise<EnvelopePage>;
  /** Deletes envelopes with seq <= upToSeq; returns how many were deleted. */
  ack(recipientKey: Uint8Array, upToSeq: number): Promise<number>;
  /** Number of envelopes waiting for the recipient. */
  queueDepth(recipientKey: Uint8Array): Promise<number>;
  /** Highest seq ever assigned to the recipient (0 if none), acknowledged or not. */
  headSeq(recipientKey: Uint8Array): Promise<number>;

  /** Returns false, storing nothing, when the channel id or the group id already has a channel. */
  createChannel(channel: NewChannel): Promise<boolean>;
  getChannel(channelId: Uint8Array): Promise<ChannelRecord | undefined>;
  /** Identity keys of the channel's members, in no particular order (empty for an unknown channel). */
  getChannelMembers(channelId: Uint8Array): Promise<Uint8Array[]>;
  isChannelMember(channelId: Uint8Array, identityKey: Uint8Array): Promise<boolean>;
  /** Ids of the channels the identity is a member of. */
  listChannels(identityKey: Uint8Array): Promise<Uint8Array[]>;
  /** The delivery-token hash registered for the channel's epoch, if any. */
  getTokenHash(channelId: Uint8Array, epoch: number): Promise<Uint8Array | undefined>;
  /**
   * One commit per epoch, atomically: when commit.epoch is the channel's epoch, stores the envelopes,
   * applies the membership change, registers the next token hash and moves the channel to the next
   * epoch; the same commit again is a duplicate; anything else is a conflict. Only the first two
   * store anything.
   */
  acceptCommit(commit: ChannelCommit): Promise<CommitOutcome>;
  /**
   * Stores the user's published hybrid (X-Wing) public key with its identity signature, replacing
   * any previous one. Rejects, storing nothing, when identityKey is not a user's.
   */
  setHybridKey(identityKey: Uint8Array, key: HybridKeyRecord): Promise<void>;
  getHybridKey(identityKey: Uint8Array): Promise<HybridKeyRecord | undefined>;

  close(): Promise<void>;
}

export interface HybridKeyRecord {
  publicKey: Uint8Array;
  signature: Uint8Array;
}

/** One device of an account (docs/cryptography/devices.md). */
export interface DeviceRecord {
  /** Ed25519 public key of the device's MLS leaf; the account key itself for an account's original device. */
  deviceKey: Uint8Array;
  username: string;
  /** The account key's signature over the device key; empty for the account-key device. */
  certificate: Uint8Array;
  issuedAtMs: number;
  /** The owner's label for it, changeable. */
  name: string;
  createdAtMs: number;
  lastSeenMs: number;
  /** Set once the owner revoked it: a revoked device never attaches again. */
  revokedAtMs?: number;
}

export type NewDevice = Omit<DeviceRecord, "revokedAtMs">;

/**
 * "added"; "exists": this user's device already (nothing changes); "revoked": this user revoked it;
 * "taken": the key is another user's device or identity; "full": the user has maxDevices unrevoked devices.
 */
export type AddDeviceOutcome = "added" | "exists" | "revoked" | "taken" | "full";

export interface BackupEntry {
  /** 32 bytes chosen by the client (an HMAC of what the entry is); the first entry of a key is kept. */
  key: Uint8Array;
  ciphertext: Uint8Array;
}

export interface StoredBackupEntry extends BackupEntry {
  /** Per-account order of storage, from 1. */
  seq: number;
}

export interface BackupPage {
  entries: StoredBackupEntry[];
  more: boolean;
}

export type BackupPutOutcome =
  /** `stored` of the entries were new (the others had a key already present). */
  | { status: "stored"; stored: number; usedBytes: number }
  /** Storing the new ones would pass maxBytes: nothing was stored. */
  | { status: "full"; usedBytes: number };

/** Devices, the sealed account bundle and the history backup: the per-account state of multi-device. */
export interface DeviceStore {
  /** Rejects for an unknown user; see AddDeviceOutcome. */
  addDevice(device: NewDevice, maxDevices: number): Promise<AddDeviceOutcome>;
  getDevice(deviceKey: Uint8Array): Promise<DeviceRecord | undefined>;
  /** The user's devices, revoked ones included, in the order they were added. */
  listDevices(username: string): Promise<DeviceRecord[]>;
  /** Unrevoked device keys of the user owning this identity key, in the order they were added. */
  listDeviceKeys(identityKey: Uint8Array): Promise<{ devices: Uint8Array[]; everAttached: boolean }>;
  /** False, changing nothing, when it is not an unrevoked device of this user. */
  renameDevice(username: string, deviceKey: Uint8Array, name: string): Promise<boolean>;
  touchDevice(deviceKey: Uint8Array, nowMs: number): Promise<void>;
  /**
   * Marks the user's device revoked and, in the same transaction, deletes its sessions, its queue and
   * its KeyPackages. Returns the token hashes of the deleted sessions; undefined (changing nothing)
   * when it is not an unrevoked device of this user.
   */
  revokeDevice(username: string, deviceKey: Uint8Array, nowMs: number): Promise<Uint8Array[] | undefined>;

  /** Replaces the user's sealed account bundle. Rejects for an unknown user. */
  setAccountBundle(username: string, bundle: Uint8Array): Promise<void>;
  getAccountBundle(username: string): Promise<Uint8Array | undefined>;

  /**
   * Appends the entries whose key the user's backup does not hold yet (a key given twice in one call
   * counts once), all or nothing against maxBytes (the sum of key and ciphertext lengths).
   */
  putBackupEntries(username: string, entries: BackupEntry[], maxBytes: number): Promise<BackupPutOutcome>;
  /** Entries with seq > afterSeq in storage order, cut like fetchPage: at least one, then by limits. */
  fetchBackupEntries(
    username: string,
    afterSeq: number,
    page: { limit: number; maxBytes: number },
  ): Promise<BackupPage>;
  /** Bytes the user's backup holds (keys and ciphertexts). */
  backupBytes(username: string): Promise<number>;
}
