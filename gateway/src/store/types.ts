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

export interface Store {
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
   * Returns how many unclaimed single-use KeyPackages the identity now has. Rejects, storing nothing,
   * when identityKey is not a user's.
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
