/**
 * The pieces every part of the messenger needs: the account's identity and suite, the device store,
 * the current gateway connection, decoded group states, and the event sink. Kept in one small object
 * so inbound processing, sending and KeyPackage upkeep can live in separate modules.
 */
import type { CiphersuiteImpl, CiphersuiteName, ClientState } from "ts-mls";
import {
  decodeKeyPackage,
  decodeState,
  encodeState,
  members,
  type GroupMember,
  type Identity,
  type OwnKeyPackage,
} from "../mls/index.ts";
import { bytesEqual } from "../util/bytes.ts";
import { ErrorCode, QpqError } from "../protocol/index.ts";
import type { GatewayClient } from "./gatewayClient.ts";
import type { ContactView } from "./contacts.ts";
import type { ClientStore, GroupRecord, KeyPackageRecord, MessageRecord } from "./storage.ts";

export interface MessengerEvents {
  /** A message was added or its status changed. */
  message: (message: MessageRecord) => void;
  /** A conversation was created, joined, renamed, or its membership changed. */
  conversation: (group: GroupRecord) => void;
  /** A contact was verified, or a verified contact's key changed (warn loudly). */
  contact: (contact: ContactView) => void;
  /** Something failed in the background (a bad envelope, a failed publish); the messenger goes on. */
  error: (error: unknown) => void;
  /** This account's device list changed (a device was added or revoked): list it again. */
  devices: () => void;
}

type Listeners = { [K in keyof MessengerEvents]: Set<MessengerEvents[K]> };

/** The account key pair (docs/cryptography/devices.md); for an original device, its leaf key pair. */
export interface AccountKeys {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

export class ClientSession {
  private gateway: GatewayClient | undefined;
  private readonly states = new Map<string, ClientState>();
  private readonly listeners: Listeners = {
    message: new Set(),
    conversation: new Set(),
    contact: new Set(),
    error: new Set(),
    devices: new Set(),
  };
  private lock: Promise<unknown> = Promise.resolve();

  /** The account this device belongs to: its key is what the directory, contacts and safety numbers use. */
  readonly account: AccountKeys;

  constructor(
    /** This device's MLS identity: its own leaf key and credential. */
    readonly identity: Identity,
    readonly suite: CiphersuiteName,
    readonly impl: CiphersuiteImpl,
    readonly store: ClientStore,
    readonly now: () => number,
    account?: AccountKeys,
  ) {
    this.account = account ?? {
      publicKey: identity.signaturePublicKey,
      privateKey: identity.signaturePrivateKey,
    };
  }

  /**
   * Runs fn with exclusive access to group states. Every read-modify-write of a group state (sending,
   * committing, processing an incoming envelope) goes through here: two concurrent updates from the
   * same state would lose one of them, and with it ratchet secrets, possibly reusing a message key.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  get gw(): GatewayClient {
    if (!this.gateway) throw new QpqError(ErrorCode.Unavailable, "not connected to the gateway");
    return this.gateway;
  }

  get connected(): boolean {
    return this.gateway !== undefined;
  }

  setGateway(gateway: GatewayClient | undefined): void {
    this.gateway = gateway;
  }

  on<K extends keyof MessengerEvents>(event: K, listener: MessengerEvents[K]): () => void {
    (this.listeners[event] as Set<MessengerEvents[K]>).add(listener);
    return () => (this.listeners[event] as Set<MessengerEvents[K]>).delete(listener);
  }

  emit<K extends keyof MessengerEvents>(event: K, ...args: Parameters<MessengerEvents[K]>): void {
    for (const listener of this.listeners[event]) {
      try {
        (listener as (...a: Parameters<MessengerEvents[K]>) => void)(...args);
      } catch {
        // A failing UI listener must not break message processing.
      }
    }
  }

  /** Decoded state of a group, cached: decoding a large X-Wing group state costs milliseconds. */
  async groupState(groupId: string): Promise<{ record: GroupRecord; state: ClientState } | undefined> {
    const record = await this.store.getGroup(groupId);
    if (!record) return undefined;
    return { record, state: this.stateOf(record) };
  }

  /** The decoded state of a stored record, through the same cache. */
  stateOf(record: GroupRecord): ClientState {
    let state = this.states.get(record.id);
    if (!state) {
      state = decodeState(record.state);
      this.states.set(record.id, state);
    }
    return state;
  }

  /** The decoded state last seen for a group, without touching the store. */
  cachedState(groupId: string): ClientState | undefined {
    return this.states.get(groupId);
  }

  /** The record to persist for a new group state; the cache follows once it is stored. */
  groupRecord(
    previous: GroupRecord | undefined,
    groupId: string,
    state: ClientState,
    name?: string,
    channelId?: string,
  ): GroupRecord {
    const now = this.now();
    const channel = channelId ?? previous?.channelId;
    if (channel === undefined)
      throw new QpqError(ErrorCode.InvalidArgument, "a conversation needs its channel");
    this.states.set(groupId, state);
    const record: GroupRecord = {
      channelId: channel,
      id: groupId,
      suite: state.groupContext.cipherSuite,
      state: encodeState(state),
      epoch: Number(state.groupContext.epoch),
      name: name ?? previous?.name ?? "",
      createdAtMs: previous?.createdAtMs ?? now,
      updatedAtMs: now,
      ...(previous?.keysRotatedAtMs !== undefined && { keysRotatedAtMs: previous.keysRotatedAtMs }),
      ...(previous?.invitedBy !== undefined && { invitedBy: previous.invitedBy }),
      ...(previous?.leftAtMs !== undefined && { leftAtMs: previous.leftAtMs }),
    };
    // A pending commit of ours stays pending while the epoch stands; once the group moved on (someone
    // else's commit, or ours adopted) it is obsolete.
    if (previous?.pendingCommit && previous.epoch === record.epoch)
      record.pendingCommit = previous.pendingCommit;
    return record;
  }

  /** The group's leaves other than this device's, in leaf order (this account's other devices included). */
  otherMembers(state: ClientState): GroupMember[] {
    return members(state).filter((m) => !bytesEqual(m.signatureKey, this.identity.signaturePublicKey));
  }

  ownKeyPackage(record: KeyPackageRecord): OwnKeyPackage {
    return {
      ref: record.ref,
      encoded: record.encoded,
      publicPackage: decodeKeyPackage(record.encoded),
      privatePackage: {
        initPrivateKey: record.initPrivateKey,
        hpkePrivateKey: record.hpkePrivateKey,
        signaturePrivateKey: this.identity.signaturePrivateKey,
      },
      lastResort: record.lastResort,
    };
  }
}
