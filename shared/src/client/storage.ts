/**
 * What a client device keeps between runs, behind one interface: the web app implements it on
 * IndexedDB (encrypted at rest), the CLI on files, tests in memory. Every implementation passes
 * clientStoreContract.ts. Records are plain data (Uint8Array, numbers, strings) so any backend can
 * serialize them.
 */

export interface AccountRecord {
  username: string;
  /** This device's MLS leaf key pair (for an account's original device, the account key pair). */
  signaturePublicKey: Uint8Array;
  signaturePrivateKey: Uint8Array;
  /**
   * The account key pair, on every device but an original one (docs/cryptography/devices.md); it
   * certifies this device and signs the account's hybrid key and invitations.
   */
  accountPublicKey?: Uint8Array;
  accountPrivateKey?: Uint8Array;
  /** The account key's certificate for signaturePublicKey; absent on an original device. */
  deviceCertificate?: { issuedAtMs: number; signature: Uint8Array };
  /** The label this device gives itself in the account's device list. */
  deviceName?: string;
  /** MLS cipher suite for groups this device creates. */
  suite: string;
  createdAtMs: number;
}

export interface KeyPackageRecord {
  ref: string;
  encoded: Uint8Array;
  initPrivateKey: Uint8Array;
  hpkePrivateKey: Uint8Array;
  lastResort: boolean;
  createdAtMs: number;
}

export interface GroupRecord {
  /** Hex MLS group id. */
  id: string;
  suite: string;
  /** ts-mls encodeGroupState output: holds private keys, so backends must encrypt it at rest. */
  state: Uint8Array;
  epoch: number;
  name: string;
  createdAtMs: number;
  updatedAtMs: number;
  /**
   * Hex id of the gateway's channel carrying this conversation (learnt at creation, or from the
   * envelope that brought the invitation).
   */
  channelId: string;
  /** When this device last rotated its leaf key in the group (periodic rotation; absent: never). */
  keysRotatedAtMs?: number;
  /**
   * Username of the member whose signed invitation brought us into the group (invitations.ts); absent
   * for groups this device created.
   */
  invitedBy?: string;
  /**
   * When this device asked to leave (a Remove proposal of its own leaf, committed by another member).
   * From then on the conversation is treated like one we were removed from, even before the commit.
   */
  leftAtMs?: number;
  /**
   * A commit of ours sent (or about to be) but not yet known to be accepted, with the state it leads
   * to. Kept across restarts so a commit the gateway accepted while we crashed or lost the answer is
   * sent again (the gateway answers a repeat as a duplicate) and adopted, instead of leaving this
   * device an epoch behind its group for good. Holds secrets: encrypted at rest like `state`.
   */
  pendingCommit?: PendingCommit;
}

export interface PendingCommit {
  commit: Uint8Array;
  /** ts-mls encodeGroupState of the state after the commit. */
  state: Uint8Array;
  welcome?: Uint8Array;
  added: Uint8Array[];
  removed: Uint8Array[];
  nextTokenHash: Uint8Array;
  /** The devices the Welcome goes to; absent: each added account's original device (its account key). */
  welcomeTo?: WelcomeRecipient[];
}

/** One device a Welcome is for, and the account whose hybrid key its invitation is sealed to. */
export interface WelcomeRecipient {
  deviceKey: Uint8Array;
  accountKey: Uint8Array;
}

/** Of our own messages: sending, sent, queued (waits for a connection) or failed (outbox.ts). */
export type MessageStatus = "sending" | "sent" | "queued" | "failed" | "received" | "undecryptable";

export interface MessageRecord {
  /** Random id chosen by the sender, carried inside the ciphertext; unique per conversation. */
  id: string;
  groupId: string;
  sender: string;
  text: string;
  sentAtMs: number;
  receivedAtMs: number;
  status: MessageStatus;
}

/**
 * What this device knows about another user's identity key: trust on first use, upgraded to
 * "verified" when the user compared safety numbers. A verified contact whose key changes is shown
 * loudly until verified again.
 */
export interface ContactRecord {
  username: string;
  identityKey: Uint8Array;
  verified: boolean;
  firstSeenAtMs: number;
  /** Set when a different key was seen for this username; cleared by verifying the new key. */
  previousKey?: Uint8Array;
  keyChangedAtMs?: number;
}

/** An envelope that could not be processed yet (future epoch, or a group not yet joined). */
export interface PendingRecord {
  seq: number;
  payload: Uint8Array;
  /** Hex group id it waits for, or "" when it waits for a Welcome. */
  groupId: string;
  epoch: number;
  receivedAtMs: number;
  /**
   * The channel it came through, checked against the group's once the group is known (inbound.ts).
   * Absent only in records stored before it was kept; those are dropped as from the wrong channel.
   */
  channelId?: Uint8Array;
}

/**
 * Everything one processed envelope changes, applied atomically together with the new cursor, so a
 * crash either keeps the envelope unprocessed (it is fetched again) or fully applied.
 */
export interface EnvelopeOutcome {
  seq: number;
  groups?: GroupRecord[];
  messages?: MessageRecord[];
  addPending?: PendingRecord[];
  removePending?: number[];
  removeKeyPackages?: string[];
}

export interface ClientStore {
  getAccount(): Promise<AccountRecord | undefined>;
  putAccount(account: AccountRecord): Promise<void>;

  putKeyPackages(records: KeyPackageRecord[]): Promise<void>;
  getKeyPackage(ref: string): Promise<KeyPackageRecord | undefined>;
  listKeyPackages(): Promise<KeyPackageRecord[]>;
  deleteKeyPackages(refs: string[]): Promise<void>;

  getGroup(id: string): Promise<GroupRecord | undefined>;
  listGroups(): Promise<GroupRecord[]>;
  putGroup(group: GroupRecord): Promise<void>;

  /**
   * Stores a message; one with the groupId and id of a stored message replaces it only when both have
   * the same sender (a status change of our own message). Ids are chosen by senders, so otherwise the
   * first record stays: no member can overwrite another's message.
   */
  putMessage(message: MessageRecord): Promise<void>;
  getMessage(groupId: string, id: string): Promise<MessageRecord | undefined>;
  /** Messages of a conversation, oldest first. */
  listMessages(groupId: string): Promise<MessageRecord[]>;

  listPending(): Promise<PendingRecord[]>;

  getContact(username: string): Promise<ContactRecord | undefined>;
  putContact(contact: ContactRecord): Promise<void>;

  /** Highest envelope seq fully processed on this device (0 before the first). */
  getCursor(): Promise<number>;
  /**
   * Applies the outcome and advances the cursor to max(cursor, outcome.seq), atomically. Its messages
   * follow putMessage's rule: another sender's message never replaces a stored one.
   */
  applyEnvelope(outcome: EnvelopeOutcome): Promise<void>;
}
