/**
 * The bridge between the UI-free client core and the React UI. It owns the messenger and the
 * connection manager in module scope (never on window: page scripts and extensions must not reach
 * the keys or the core) and mirrors what the UI needs into the zustand store.
 */
import {
  byActivity,
  canonicalUsername,
  ConnectionManager,
  Conversations,
  Messenger,
  type ContactView,
  type MessageRecord,
} from "@qpq/shared/client";
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import type { CertificateHash, WebTransportLike } from "@qpq/shared/transport";
import { IdbClientStore } from "../storage/idbClientStore.ts";
import { thisDeviceName } from "./deviceName.ts";
import { wireDevices } from "./devices.ts";
import { describeError, isRevocation } from "./errors.ts";
import { rememberForOffline, unlockOffline } from "./offlineUnlock.ts";
import { useApp } from "./store.ts";

let messenger: Messenger | undefined;
let connection: ConnectionManager | undefined;
let store: IdbClientStore | undefined;
/** Reading stored history without the gateway (no messenger then). */
let offlineBook: Conversations | undefined;
const unsubscribe: (() => void)[] = [];

function openTransport(url: string, hashes: CertificateHash[]): WebTransportLike {
  const options: WebTransportOptions = {};
  // Pinning is only for the gateway's development certificate; a CA certificate verifies normally.
  if (hashes.length > 0) {
    options.serverCertificateHashes = hashes.map((h) => ({
      algorithm: h.algorithm,
      value: new Uint8Array(h.value),
    }));
  }
  return new WebTransport(url, options) as unknown as WebTransportLike;
}

function newConnection(): ConnectionManager {
  const cm = new ConnectionManager({ baseUrl: location.origin, openTransport, clientName: "qpq-web" });
  cm.onStatus((status, detail) => {
    useApp.setState({ connection: status, connectionDetail: detail });
    if (status === "expired")
      void signOut(describeError(new QpqError(ErrorCode.SessionInvalid, detail ?? "")));
  });
  return cm;
}

export async function signIn(mode: "login" | "register", username: string, password: string): Promise<void> {
  useApp.setState({ phase: "working", authError: undefined });
  const cm = newConnection();
  try {
    let gw;
    try {
      gw = await cm.connect();
    } catch (error) {
      if (mode === "login" && error instanceof QpqError && error.code === ErrorCode.Unavailable) {
        cm.stop();
        if (await openOffline(canonicalUsername(username.trim()), password)) return;
      }
      throw error;
    }
    const opts = {
      // Only used when this browser holds no keys for the account: it becomes a new device of it.
      deviceName: thisDeviceName(),
      store: async (login: { session: { username: string }; exportKey: Uint8Array }) => {
        store = await IdbClientStore.open({ username: login.session.username, exportKey: login.exportKey });
        return store;
      },
    };
    try {
      messenger =
        mode === "register"
          ? await Messenger.register(gw, username.trim(), password, opts)
          : await Messenger.login(gw, username.trim(), password, opts);
    } catch (error) {
      gw.close();
      throw error;
    }
    connection = cm;
    cm.keep(messenger, gw, messenger.login.sessionToken);
    wire(messenger);
    messenger.start();
    useApp.setState({ phase: "ready", readOnly: false, me: messenger.username, selectedId: undefined });
    await refreshConversations();
    rememberForOffline(messenger.username, password, messenger.login.exportKey).catch((error: unknown) =>
      console.warn("quicproquo: offline unlock not saved", error),
    );
  } catch (error) {
    cm.stop();
    store?.close();
    store = undefined;
    messenger = undefined;
    useApp.setState({ phase: "signedOut", authError: describeError(error), connection: "offline" });
  }
}

/**
 * Without the gateway, history stored on this device can still be read: the password unseals the
 * export key kept for that purpose (offlineUnlock.ts). Nothing can be sent until an online login.
 */
async function openOffline(username: string, password: string): Promise<boolean> {
  const exportKey = await unlockOffline(username, password);
  if (!exportKey) return false;
  store = await IdbClientStore.open({ username, exportKey });
  offlineBook = new Conversations(store, username);
  useApp.setState({
    phase: "ready",
    readOnly: true,
    me: username,
    conversations: await offlineBook.list(),
    selectedId: undefined,
    connection: "offline",
    connectionDetail: "gateway unreachable",
  });
  return true;
}

function wire(m: Messenger): void {
  unsubscribe.push(
    m.on("message", upsertMessage),
    m.on("contact", showContact),
    m.on("conversation", () => void refreshConversations()),
    m.on("error", (error) => {
      // Revoked from another device of the account: the gateway ended this device's session.
      if (isRevocation(error)) void signOut(describeError(error));
      else console.warn("quicproquo:", describeError(error), String(error));
    }),
    wireDevices(m, refreshConversations),
  );
  const online = () => connection?.retryNow();
  window.addEventListener("online", online);
  unsubscribe.push(() => window.removeEventListener("online", online));
}

export async function signOut(reason?: string): Promise<void> {
  const m = messenger;
  messenger = undefined;
  for (const off of unsubscribe.splice(0)) off();
  connection?.stop();
  connection = undefined;
  if (m) {
    try {
      if (useApp.getState().connection === "online") await m.logout();
    } catch {
      // Logging out is best effort: the token expires anyway.
    }
    m.close();
  }
  store?.close();
  store = undefined;
  offlineBook = undefined;
  useApp.setState({
    phase: "signedOut",
    readOnly: false,
    me: undefined,
    conversations: [],
    messages: {},
    contacts: {},
    memberDevices: {},
    selectedId: undefined,
    authError: reason,
    connection: "offline",
  });
}

async function refreshConversations(): Promise<void> {
  const m = messenger;
  if (!m) return;
  useApp.setState({ conversations: await m.listConversations() });
  const selected = useApp.getState().selectedId;
  if (selected) await Promise.all([refreshMessages(selected), loadMemberDevices(selected)]);
}

/** How many devices of each member take part in the conversation (one MLS leaf each). */
async function loadMemberDevices(groupId: string): Promise<void> {
  const m = messenger;
  if (!m) return;
  const counts: Record<string, number> = {};
  for (const leaf of await m.members(groupId)) {
    if (leaf.username) counts[leaf.username] = (counts[leaf.username] ?? 0) + 1;
  }
  if (useApp.getState().selectedId === groupId) useApp.setState({ memberDevices: counts });
}

/**
 * Applies one new or changed message to the UI state without re-reading the conversation: re-reading
 * would decrypt every stored message of the conversation for each one that arrives.
 */
function upsertMessage(message: MessageRecord): void {
  useApp.setState((s) => {
    const list = s.messages[message.groupId];
    const conversations = s.conversations.map((c) =>
      c.id === message.groupId ? { ...c, updatedAtMs: Math.max(c.updatedAtMs, message.receivedAtMs) } : c,
    );
    conversations.sort(byActivity);
    if (!list) return { conversations };
    const index = list.findIndex((m) => m.id === message.id);
    const next = index >= 0 ? list.map((m, i) => (i === index ? message : m)) : [...list, message];
    return { conversations, messages: { ...s.messages, [message.groupId]: next } };
  });
}

async function refreshMessages(groupId: string): Promise<void> {
  const view = messenger ? await messenger.conversationView(groupId) : await offlineBook?.view(groupId);
  if (!view) return;
  useApp.setState((s) => ({ messages: { ...s.messages, [groupId]: view.messages } }));
}

export async function selectConversation(groupId: string): Promise<void> {
  useApp.setState({ selectedId: groupId, view: "conversation", memberDevices: {} });
  await refreshMessages(groupId);
  await loadMemberDevices(groupId);
  await loadContacts(groupId);
}

function showContact(contact: ContactView): void {
  useApp.setState((s) => ({
    contacts: {
      ...s.contacts,
      [contact.username]: {
        verified: contact.verified,
        keyChanged: contact.keyChanged,
        impostor: contact.impostor,
        safetyNumber: contact.safetyNumber,
      },
    },
  }));
}

/** Loads what this device knows about each member's key (verified, changed, safety number). */
async function loadContacts(groupId: string): Promise<void> {
  const m = messenger;
  const conversation = useApp.getState().conversations.find((c) => c.id === groupId);
  if (!m || !conversation) return;
  for (const name of conversation.members) {
    if (name === m.username) continue;
    const contact = await m.contact(name);
    if (contact) showContact(contact);
  }
}

export function verifyContact(username: string): Promise<boolean> {
  return attempt(async () => {
    showContact(await requireMessenger().verifyContact(username));
  });
}

/** Runs a user action, showing its failure in the banner; returns whether it succeeded. */
async function attempt(action: () => Promise<void>): Promise<boolean> {
  try {
    useApp.setState({ error: undefined });
    await action();
    return true;
  } catch (error) {
    useApp.setState({ error: describeError(error) });
    return false;
  }
}

function requireMessenger(): Messenger {
  if (!messenger) throw new Error("not signed in");
  return messenger;
}

export function startDirect(username: string): Promise<boolean> {
  return attempt(async () => {
    const { conversation } = await requireMessenger().openDirect(username.trim());
    await refreshConversations();
    await selectConversation(conversation.id);
  });
}

export function createGroup(name: string, usernames: string[]): Promise<boolean> {
  return attempt(async () => {
    const m = requireMessenger();
    const id = await m.createConversation(name.trim(), usernames.map((u) => u.trim()).filter(Boolean));
    await refreshConversations();
    await selectConversation(id);
  });
}

export function invite(groupId: string, username: string): Promise<boolean> {
  return attempt(async () => {
    await requireMessenger().invite(groupId, [username.trim()]);
    await refreshConversations();
  });
}

export function removeMember(groupId: string, username: string): Promise<boolean> {
  return attempt(async () => {
    await requireMessenger().remove(groupId, username);
    await refreshConversations();
  });
}

/**
 * Leaves the conversation: proposes our own removal, which another member's client commits (MLS does
 * not let a member commit its own removal). The conversation turns read-only here at once.
 */
export function leaveConversation(groupId: string): Promise<boolean> {
  return attempt(async () => {
    await requireMessenger().leave(groupId);
    await refreshConversations();
  });
}

/** A self-update: new leaf keys for this device in the conversation (also done weekly on its own). */
export function rotateKeys(groupId: string): Promise<boolean> {
  return attempt(async () => {
    await requireMessenger().rotateKeys(groupId);
    await refreshConversations();
  });
}

export function send(groupId: string, text: string): Promise<boolean> {
  return attempt(async () => {
    await requireMessenger().send(groupId, text);
  });
}

export function retry(groupId: string, messageId: string): Promise<boolean> {
  return attempt(async () => {
    await requireMessenger().retry(groupId, messageId);
  });
}
