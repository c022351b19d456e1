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
  /** Envelopes with seq > afterSeq, oldest first, at most limit (a non-negative integer). */
  fetch(recipientKey: Uint8Array, afterSeq: number, limit: number): Promise<StoredEnvelope[]>;
  /** Deletes envelopes with seq <= upToSeq; returns how many were deleted. */
  ack(recipientKey: Uint8Array, upToSeq: number): Promise<number>;
  /** Number of envelopes waiting for the recipient. */
  queueDepth(recipientKey: Uint8Array): Promise<number>;
  /** Highest seq ever assigned to the recipient (0 if none), acknowledged or not. */
  headSeq(recipientKey: Uint8Array): Promise<number>;

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
