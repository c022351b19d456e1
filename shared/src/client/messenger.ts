/**
 * The UI-free messenger: accounts, conversations (MLS groups) and messages on top of the gateway
 * client and a device store. The web app and the CLI are thin layers over this class.
 */
import type { CiphersuiteName, KeyPackage } from "ts-mls";
import {
  addMembers,
  createGroup,
  deliveryToken,
  deliveryTokenHash,
  groupIdHex,
  parseCredentialIdentity,
  leavesOf,
  members as groupMembers,
  suiteImpl,
  type GroupMember,
  type Identity,
} from "../mls/index.ts";
import { ErrorCode, QpqError } from "../protocol/index.ts";
import { bytesEqual, toHex } from "../util/bytes.ts";
import { encodeAppMessage, newMessageId, MAX_TEXT_CHARS } from "./appMessage.ts";
import type { GatewayClient, KeyStretching, LoginResult } from "./gatewayClient.ts";
import { InboundProcessor } from "./inbound.ts";
import { Contacts, type ContactView } from "./contacts.ts";
import { GroupCommits } from "./groupCommits.ts";
import { GroupLifecycle, type LifecycleOptions } from "./groupLifecycle.ts";
import { HybridKeys } from "./hybridKeys.ts";
import { KeyPackageStock } from "./keyPackageStock.ts";
import { Outbound, type OutboundOptions } from "./outbound.ts";
import { Outbox } from "./outbox.ts";
import { ClientSession, type MessengerEvents } from "./session.ts";
import type { ClientStore, GroupRecord, MessageRecord, WelcomeRecipient } from "./storage.ts";
import { AccountDevices, claimAccountKeyPackages, DeviceSync } from "./devices.ts";
import { HistoryBackup, type RestoreResult } from "./historyBackup.ts";
import { Acknowledgements } from "./acknowledgements.ts";
import { Conversations, type Conversation, type ConversationView } from "./conversations.ts";
import { canonicalUsername } from "./username.ts";
import { accountKeysOf, deviceIdentity, loginAccount, registerAccount, type StoreSource } from "./account.ts";

export type { StoreSource } from "./account.ts";

/** How an account's first device from before devices existed is listed. */
const ORIGINAL_DEVICE_NAME = "original device";

export interface MessengerOptions extends OutboundOptions, LifecycleOptions {
  store: StoreSource;
  suite?: CiphersuiteName;
  keyStretching?: KeyStretching;
  /** Single-use KeyPackages kept published (RFC 9750 suggests a stock; 10 by default). */
  keyPackageStock?: number;
  now?: () => number;
  /** How this device is listed among the account's devices when it is new ("Firefox on Linux"). */
  deviceName?: string;
}

export class Messenger {
  private readonly inbound: InboundProcessor;
  private readonly stock: KeyPackageStock;
  private readonly contacts: Contacts;
  private readonly outbound: Outbound;
  private readonly outbox: Outbox;
  /** Every commit goes through here: one commit per epoch, retried on conflict. */
  readonly commits: GroupCommits;
  /** This account's X-Wing key for sealing to users outside any group. */
  readonly hybridKeys: HybridKeys;
  /**
   * Removing members, rotating keys, committing proposals, noticing our own removal. UIs use the
   * Messenger's own methods (remove, leave, rotateKeys); this is for tests and finer control.
   */
  readonly lifecycle: GroupLifecycle;
  private readonly book: Conversations;
  /** Keeps groups' leaves in step with members' device lists (devices.ts). */
  private readonly deviceSync: DeviceSync;
  /** This account's devices: list, rename, revoke. */
  readonly devices: AccountDevices;
  /** The account's history backup at the gateway (historyBackup.ts). */
  private readonly backup: HistoryBackup;
  /** Set on a device that just joined the account: the history read back from the backup. */
  historyRestored: Promise<RestoreResult> | undefined;
  private readonly acks: Acknowledgements;

  private constructor(
    private readonly session: ClientSession,
    readonly login: LoginResult,
    stockSize: number,
    options: OutboundOptions & LifecycleOptions,
    private readonly deviceName: string,
  ) {
    this.stock = new KeyPackageStock(session, stockSize);
    this.acks = new Acknowledgements(session);
    this.outbound = new Outbound(session, options);
    this.outbox = new Outbox(session, ({ groupId, id, text, sentAtMs }) =>
      this.broadcast(groupId, encodeAppMessage({ kind: "text", id, text, sentAtMs })),
    );
    this.hybridKeys = new HybridKeys(session);
    this.commits = new GroupCommits(session, this.hybridKeys, () => this.sync());
    this.lifecycle = new GroupLifecycle(session, this.commits, this.hybridKeys, options);
    this.contacts = new Contacts(session, (username) => session.gw.resolveUser(username));
    this.book = new Conversations(session.store, session.identity.username, (r) => session.stateOf(r));
    // The devices just added need the conversation's name, which travels as an application message.
    this.deviceSync = new DeviceSync(session, this.commits, async (groupId) => {
      const record = await this.requireGroup(groupId);
      await this.broadcast(groupId, encodeAppMessage({ kind: "groupInfo", name: record.record.name }));
    });
    this.devices = new AccountDevices(session, this.deviceSync);
    this.backup = new HistoryBackup(session);
    session.on("message", (message) => this.backup.note(message));
    // Every membership change shows members' keys: remember them, and notice a changed one.
    session.on("conversation", (group) => {
      this.observeMembers(group.id).catch((error: unknown) => session.emit("error", error));
    });
    this.inbound = new InboundProcessor(
      session,
      (cursor) => this.acks.processed(cursor),
      () => this.stock.replenishSoon(),
      this.hybridKeys,
      (accountKey) => {
        if (bytesEqual(accountKey, session.account.publicKey)) {
          session.emit("devices");
          // A new device of this account reads the backup once it is added: upload what is batched now.
          this.backup.flush().catch((error: unknown) => session.emit("error", error));
        }
        this.deviceSync.noticed(accountKey);
      },
    );
  }

  /**
   * Creates the account key and this device's key, registers the account with OPAQUE, logs in, and
   * leaves the account key sealed under the password at the gateway for the account's later devices.
   * The device store is opened only after login because its at-rest key derives from the export key.
   */
  static async register(
    gw: GatewayClient,
    username: string,
    password: string,
    opts: MessengerOptions,
  ): Promise<Messenger> {
    const { login, store } = await registerAccount(gw, canonicalUsername(username), password, opts);
    return Messenger.open(gw, login, store, opts);
  }

  /**
   * Logs in with OPAQUE. On a device that holds no keys for the account yet, the account key comes
   * from the bundle sealed under the password and this device becomes a new device of the account:
   * members' devices add it to the account's conversations, and its history comes from the backup.
   */
  static async login(
    gw: GatewayClient,
    username: string,
    password: string,
    opts: MessengerOptions,
  ): Promise<Messenger> {
    const { login, store, isNew } = await loginAccount(gw, canonicalUsername(username), password, opts);
    const messenger = await Messenger.open(gw, login, store, opts);
    // The history from before this device existed; conversations arrive as members add the device.
    if (isNew) messenger.historyRestored = messenger.restoreHistory();
    return messenger;
  }

  /** Reads the account's history backup into this device's store (done by itself on a new device). */
  restoreHistory(): Promise<RestoreResult> {
    const run = this.backup.restore();
    run.catch((error: unknown) => this.session.emit("error", error));
    return run;
  }

  /**
   * Continues the session of an earlier login with its token, without the password (a CLI command
   * after `qpq login`). The export key is not known then, so login.exportKey is empty and the store
   * must be given already open.
   */
  static async resume(
    gw: GatewayClient,
    sessionToken: Uint8Array,
    store: ClientStore,
    opts: Omit<MessengerOptions, "store">,
  ): Promise<Messenger> {
    const session = await gw.resumeSession(sessionToken);
    const login: LoginResult = { session, sessionToken, exportKey: new Uint8Array(0) };
    return Messenger.open(gw, login, store, { ...opts, store });
  }

  private static async open(
    gw: GatewayClient,
    login: LoginResult,
    store: ClientStore,
    opts: MessengerOptions,
  ): Promise<Messenger> {
    const account = await store.getAccount();
    if (!account || account.username !== login.session.username) {
      throw new QpqError(ErrorCode.InvalidArgument, "this device holds no keys for that account");
    }
    const keys = accountKeysOf(account);
    if (!bytesEqual(keys.publicKey, login.session.identityKey)) {
      throw new QpqError(ErrorCode.InvalidArgument, "this device's account key does not match the account");
    }
    const suite = account.suite as CiphersuiteName;
    const session = new ClientSession(
      deviceIdentity(account),
      suite,
      await suiteImpl(suite),
      store,
      opts.now ?? Date.now,
      keys,
    );
    const deviceName = account.deviceName ?? opts.deviceName ?? ORIGINAL_DEVICE_NAME;
    const messenger = new Messenger(session, login, opts.keyPackageStock ?? 10, opts, deviceName);
    await messenger.attach(gw);
    return messenger;
  }

  get username(): string {
    return this.session.identity.username;
  }

  /** This device's MLS identity (its own leaf key). */
  get identity(): Identity {
    return this.session.identity;
  }

  /** The account key: what the directory, contacts and safety numbers know this account by. */
  get accountKey(): Uint8Array {
    return this.session.account.publicKey;
  }

  on<K extends keyof MessengerEvents>(event: K, listener: MessengerEvents[K]): () => void {
    return this.session.on(event, listener);
  }

  /**
   * Uses a (new) gateway connection: tops up KeyPackages, then subscribes from the last processed
   * envelope, which first delivers everything that arrived while offline, then new envelopes live.
   * Timers run only after start().
   */
  async attach(gw: GatewayClient): Promise<void> {
    this.session.setGateway(gw);
    // Before anything that uses a queue or KeyPackages: those are this device's own.
    await gw.attachDevice(this.attachment());
    gw.onPush((push) => {
      if (push.type === "envelope") void this.inbound.deliver([push.envelope]);
      else this.session.emit("error", new QpqError(ErrorCode.SessionInvalid, push.sessionEnded.message));
    });
    await this.stock.replenish();
    await this.hybridKeys.publish();
    // Before new envelopes: a commit of ours that may have been accepted while we were away is settled
    // first, or the group's next commit would find us an epoch behind.
    await this.commits.resumePending();
    await gw.subscribe(await this.session.store.getCursor());
    this.outbox.flush(this.username).catch((error: unknown) => this.session.emit("error", error));
    this.lifecycle.resendLostLeaves().catch((error: unknown) => this.session.emit("error", error));
    // Devices added or revoked while this one was away (their notices may have been skipped).
    void this.deviceSync.reconcile();
  }

  /** This device as attachDevice names it: its key, certificate and name. */
  get device(): { deviceKey: Uint8Array; issuedAtMs: number; certificate: Uint8Array; name: string } {
    return this.attachment();
  }

  private attachment() {
    const { identity } = this.session;
    const certificate = identity.credentialIdentity
      ? parseCredentialIdentity(identity.credentialIdentity)?.device
      : undefined;
    return {
      deviceKey: identity.signaturePublicKey,
      issuedAtMs: certificate?.issuedAtMs ?? 0,
      certificate: certificate?.signature ?? new Uint8Array(0),
      name: this.deviceName,
    };
  }

  /**
   * For a long-running client (the web app, `qpq recv --follow`): from now on the messenger does its
   * periodic work on its own timers: weekly key rotation, committing others' proposals when this
   * member's turn comes. A short-lived client instead calls flush() before it closes.
   */
  start(): void {
    this.lifecycle.start();
  }

  /**
   * Does now what the timers would do later, for a client about to close (a one-shot CLI command):
   * finishes resending the outbox and processing what arrived, adds and removes devices of members
   * whose device lists changed, commits proposals it is this member's turn to commit, rotates keys
   * that are overdue, waits for a KeyPackage top-up under way, and acknowledges at once. Failures are
   * reported as "error" events, like the timers' would be.
   */
  async flush(): Promise<void> {
    // The outbox resend that attach started must finish before a one-shot command closes.
    await this.outbox.idle();
    await this.settled();
    // Devices added or revoked: the groups are brought in step now, not after the client is gone.
    await this.deviceSync.reconcileNoticed();
    await this.deviceSync.idle();
    await this.lifecycle.commitDue();
    await this.lifecycle.rotateOverdue().catch((error: unknown) => this.session.emit("error", error));
    await this.settled();
    await this.stock.idle();
    await this.acks.now();
    await this.backup.flush().catch((error: unknown) => this.session.emit("error", error));
  }

  detach(): void {
    this.session.setGateway(undefined);
  }

  /** Fetches and processes everything queued after the local cursor (for one-shot clients). */
  async sync(): Promise<void> {
    for (;;) {
      const { envelopes, more } = await this.session.gw.fetch(await this.session.store.getCursor());
      await this.inbound.deliver(envelopes);
      if (!more) return;
    }
  }

  /** Waits until everything delivered so far has been processed. */
  settled(): Promise<void> {
    return this.inbound.deliver([]);
  }

  /** The stored group records (epoch, channel, pending commit): for tests and diagnostics. */
  conversations(): Promise<GroupRecord[]> {
    return this.session.store.listGroups();
  }

  /** The conversation list, most recently active first. */
  listConversations(): Promise<Conversation[]> {
    return this.book.list();
  }

  conversation(groupId: string): Promise<Conversation | undefined> {
    return this.book.get(groupId);
  }

  /** A conversation with its messages and their delivery states. */
  conversationView(groupId: string): Promise<ConversationView | undefined> {
    return this.book.view(groupId);
  }

  /** The direct conversation with a user that this device still takes part in, if any. */
  findDirect(username: string): Promise<Conversation | undefined> {
    return this.book.findDirect(canonicalUsername(username));
  }

  /** The direct conversation with a user: the existing one, or a new one (created: true). */
  async openDirect(username: string): Promise<{ conversation: Conversation; created: boolean }> {
    const existing = await this.findDirect(username);
    if (existing) return { conversation: existing, created: false };
    const id = await this.createConversation("", [username]);
    return { conversation: (await this.book.get(id))!, created: true };
  }

  messages(groupId: string): Promise<MessageRecord[]> {
    return this.session.store.listMessages(groupId);
  }

  async members(groupId: string): Promise<GroupMember[]> {
    return groupMembers((await this.requireGroup(groupId)).state);
  }

  /**
   * Creates a conversation on its own group channel at the gateway (direct conversations too: any
   * conversation may grow) and invites the given users to it; returns its id.
   */
  async createConversation(name: string, usernames: string[] = []): Promise<string> {
    const { impl, gw } = this.session;
    const invited = this.inviteeNames(usernames);
    // Every name is looked up before anything changes, so a typo (E012) leaves no half-made
    // conversation behind.
    const keys = await this.resolveAll(invited);
    const state = await createGroup(this.session.identity, impl);
    const groupId = groupIdHex(state);
    const tokenHash = deliveryTokenHash(await deliveryToken(state, impl));
    const channelId = await gw.createChannel(state.groupContext.groupId, [], 0, tokenHash);
    const record = this.session.groupRecord(undefined, groupId, state, name, toHex(channelId));
    await this.session.store.putGroup(record);
    this.session.emit("conversation", record);
    if (invited.length > 0) await this.addUsers(groupId, invited, keys);
    return groupId;
  }

  /** Identity keys by username, all looked up before any is used. */
  private async resolveAll(usernames: string[]): Promise<Map<string, Uint8Array>> {
    const keys = new Map<string, Uint8Array>();
    for (const username of usernames) keys.set(username, await this.session.gw.resolveUser(username));
    return keys;
  }

  /** Canonical, distinct names; this account is refused (it is always a member). */
  private inviteeNames(usernames: string[]): string[] {
    const names = [...new Set(usernames.map(canonicalUsername))];
    if (names.includes(this.username)) {
      throw new QpqError(ErrorCode.InvalidArgument, "you are always a member of your own conversations");
    }
    return names;
  }

  /**
   * Adds users: claims one KeyPackage each, commits the additions, sends the commit to the existing
   * members and the Welcome to the new ones, then tells everyone the conversation's name.
   */
  async invite(groupId: string, names: string[]): Promise<void> {
    const usernames = this.inviteeNames(names);
    const current = await this.requireGroup(groupId);
    await this.lifecycle.assertMember(groupId);
    const already = groupMembers(current.state)
      .map((m) => m.username ?? "")
      .filter((u) => usernames.includes(u));
    if (already.length > 0) {
      throw new QpqError(ErrorCode.InvalidArgument, `already a member: ${already.join(", ")}`);
    }
    // Before any KeyPackage is claimed: a typo in the last name must not use up the others'.
    await this.addUsers(groupId, usernames, await this.resolveAll(usernames));
  }

  private async addUsers(groupId: string, usernames: string[], keys: Map<string, Uint8Array>): Promise<void> {
    const keyPackages: KeyPackage[] = [];
    const welcomeTo: WelcomeRecipient[] = [];
    const added: Uint8Array[] = [];
    for (const username of usernames) {
      const identityKey = keys.get(username)!;
      // Every device of the user; each KeyPackage must carry the account key we resolved.
      const claimed = await claimAccountKeyPackages(this.session, username, identityKey);
      if (claimed.keyPackages.length === 0) {
        throw new QpqError(ErrorCode.NoKeyPackage, `${username} has no KeyPackage available`);
      }
      keyPackages.push(...claimed.keyPackages);
      welcomeTo.push(...claimed.welcomeTo);
      added.push(identityKey);
    }
    // The claimed KeyPackages stay valid if the commit loses its epoch: a rebuild reuses them.
    await this.commits.commitChange(groupId, async (state) => {
      // Checked on the state each attempt builds on: a rival commit that won the epoch may have added
      // the same user, and a second leaf for them would split the group's view of who is in it.
      const already = usernames.filter((u) => leavesOf(state, u).length > 0);
      if (already.length > 0) {
        throw new QpqError(ErrorCode.InvalidArgument, `already a member: ${already.join(", ")}`);
      }
      const result = await addMembers(state, this.session.impl, keyPackages);
      return {
        commit: result.commit,
        welcome: result.welcome,
        newState: result.state,
        added,
        removed: [],
        welcomeTo,
      };
    });
    const record = await this.requireGroup(groupId);
    await this.broadcast(groupId, encodeAppMessage({ kind: "groupInfo", name: record.record.name }));
  }

  /** Removes every device of a user; after it they cannot read the conversation's new messages. */
  remove(groupId: string, username: string): Promise<void> {
    return this.lifecycle.remove(groupId, username);
  }

  /**
   * Leaves the conversation: proposes our own removal, which another member's client commits (MLS
   * does not let a member commit its own removal). The conversation turns read-only here at once.
   */
  leave(groupId: string): Promise<void> {
    return this.lifecycle.leave(groupId);
  }

  /** A self-update: new leaf keys for this device in the conversation (also done weekly). */
  rotateKeys(groupId: string): Promise<void> {
    return this.lifecycle.rotateKeys(groupId);
  }

  /**
   * Encrypts and sends a text message; its record follows sending -> sent, or queued when the
   * gateway is unreachable (sent by itself after the next reconnect), or failed when the gateway
   * refused it (outbox.ts).
   */
  async send(groupId: string, text: string): Promise<MessageRecord> {
    if (text.length === 0 || text.length > MAX_TEXT_CHARS) {
      throw new QpqError(ErrorCode.InvalidArgument, `a message has 1-${MAX_TEXT_CHARS} characters`);
    }
    await this.requireGroup(groupId);
    await this.lifecycle.assertMember(groupId);
    const now = this.session.now();
    return this.outbox.deliver({
      id: newMessageId(),
      groupId,
      sender: this.username,
      text,
      sentAtMs: now,
      receivedAtMs: now,
      status: "sending",
    });
  }

  /** Sends a failed or queued message of ours now, under the same id so recipients keep one copy. */
  retry(groupId: string, messageId: string): Promise<MessageRecord> {
    return this.outbox.retry(groupId, messageId, this.username);
  }

  /** The key this device knows for a user, whether it is verified, and the safety number to compare. */
  contact(username: string): Promise<ContactView | undefined> {
    return this.contacts.get(canonicalUsername(username));
  }

  /** Marks a contact verified after the safety numbers matched. */
  verifyContact(username: string): Promise<ContactView> {
    return this.contacts.verify(canonicalUsername(username));
  }

  private async observeMembers(groupId: string): Promise<void> {
    if (!this.session.connected) return;
    for (const member of await this.members(groupId)) {
      if (!member.username) continue;
      // One member whose check fails (the connection dropped) must not leave the rest unchecked.
      // A leaf whose certificate does not verify has no account: its own key then fails the check.
      await this.contacts
        .checkMember(member.username, member.accountKey ?? member.signatureKey)
        .catch((error: unknown) => this.session.emit("error", error));
    }
  }

  /** Revokes this session's token at the gateway (other devices and sessions stay logged in). */
  async logout(): Promise<void> {
    await this.session.gw.logout();
  }

  close(): void {
    this.deviceSync.stop();
    this.acks.stop();
    this.stock.stop();
    this.backup.stop();
    this.outbound.close();
    this.lifecycle.stop();
    if (this.session.connected) this.session.gw.close();
    this.detach();
  }

  private async broadcast(groupId: string, plaintext: Uint8Array): Promise<void> {
    const sealed = await this.session.exclusive(() => this.outbound.seal(groupId, plaintext));
    await this.outbound.send(sealed);
  }

  private async requireGroup(groupId: string) {
    const current = await this.session.groupState(groupId);
    if (!current) throw new QpqError(ErrorCode.InvalidArgument, "no such conversation");
    return current;
  }
}
