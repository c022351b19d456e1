/**
 * This account's devices and a contact's, for the UI (docs/cryptography/devices.md): the device
 * list with rename and revoke, the loud notice when a device was added to the account (the account's
 * protection against someone who learned the password), and reading the history backup on a new
 * device. The controller hands the messenger over on sign-in (wireDevices) and takes it back on
 * sign-out; nothing here keeps keys in the UI state.
 */
import type { Messenger, OwnDevice, RestoreResult } from "@qpq/shared/client";
import { fromHex, toHex } from "@qpq/shared/bytes";
import { describeError } from "./errors.ts";
import { useApp, type DeviceState } from "./store.ts";

/** The gateway's limit for a device name, in characters after trimming. */
export const MAX_DEVICE_NAME = 64;

let messenger: Messenger | undefined;
/** Keys of the devices in the list last loaded; undefined until the first load (no notice then). */
let known: Set<string> | undefined;
let loading: Promise<void> = Promise.resolve();

function view(d: OwnDevice): DeviceState {
  return {
    id: toHex(d.deviceKey),
    name: d.name,
    createdAtMs: d.createdAtMs,
    lastSeenMs: d.lastSeenMs,
    revoked: d.revoked,
    revokedAtMs: d.revokedAtMs,
    current: d.current,
    fingerprint: d.fingerprint,
  };
}

/** Why a device name cannot be used, or undefined when it can. */
export function deviceNameProblem(name: string): string | undefined {
  const trimmed = name.normalize("NFC").trim();
  if (trimmed.length === 0) return "A device name cannot be empty.";
  if ([...trimmed].length > MAX_DEVICE_NAME) return `A device name is at most ${MAX_DEVICE_NAME} characters.`;
  // Control characters would garble the notice other devices show.
  if (/[\p{Cc}\p{Cf}]/u.test(trimmed)) return "A device name cannot contain control or format characters.";
  return undefined;
}

/** Reloads the device list; devices that were not in the previous list are announced. */
export function loadDevices(): Promise<void> {
  loading = loading.then(async () => {
    const m = messenger;
    if (!m) return;
    let list: DeviceState[];
    try {
      list = (await m.devices.list()).map(view);
    } catch (error) {
      console.warn("quicproquo: device list", describeError(error));
      return;
    }
    if (m !== messenger) return;
    const added = known ? list.filter((d) => !known!.has(d.id) && !d.current && !d.revoked) : [];
    known = new Set(list.map((d) => d.id));
    useApp.setState((s) => ({
      devices: list,
      newDevices: [...s.newDevices, ...added.map((d) => d.name || "unnamed device")],
    }));
  });
  return loading;
}

/** Starts following this account's devices; returns what stops it. */
export function wireDevices(m: Messenger, onRestored: () => Promise<void>): () => void {
  messenger = m;
  known = undefined;
  useApp.setState({ devices: [], newDevices: [], restore: undefined });
  const off = m.on("devices", () => void loadDevices());
  void loadDevices();
  const stopRestoring = m.historyRestored ? followRestore(m, m.historyRestored, onRestored) : () => {};
  return () => {
    off();
    stopRestoring();
    messenger = undefined;
    known = undefined;
    useApp.setState({ devices: [], newDevices: [], restore: undefined, view: "conversation" });
  };
}

/**
 * Shows the restore of a new device's history, and reads the backup again each time the device is
 * added to a conversation: the account's other devices upload in batches, so what one of them
 * received just before this device logged in may reach the backup only after the first read.
 */
function followRestore(m: Messenger, first: Promise<RestoreResult>, onRestored: () => Promise<void>) {
  let total = 0;
  let chain: Promise<unknown> = first;
  const joined = new Set<string>();
  const show = async (result: RestoreResult) => {
    if (m !== messenger) return;
    total += result.messages;
    useApp.setState({ restore: { state: "done", messages: total } });
    await onRestored();
  };
  const fail = (error: unknown) => {
    if (m !== messenger) return;
    useApp.setState({ restore: undefined, error: `History not restored: ${describeError(error)}` });
  };
  useApp.setState({ restore: { state: "running" } });
  first.then(show, fail);
  return m.on("conversation", (group) => {
    if (joined.has(group.id)) return;
    joined.add(group.id);
    chain = chain.then(
      () => m.restoreHistory().then(show, fail),
      () => undefined,
    );
  });
}

async function attempt(action: (m: Messenger) => Promise<void>): Promise<boolean> {
  try {
    useApp.setState({ error: undefined });
    if (!messenger) throw new Error("not signed in");
    await action(messenger);
    return true;
  } catch (error) {
    useApp.setState({ error: describeError(error) });
    return false;
  } finally {
    await loadDevices();
  }
}

export function renameDevice(id: string, name: string): Promise<boolean> {
  const problem = deviceNameProblem(name);
  if (problem) {
    useApp.setState({ error: problem });
    return Promise.resolve(false);
  }
  return attempt((m) => m.devices.rename(fromHex(id), name.trim()));
}

export function revokeDevice(id: string): Promise<boolean> {
  return attempt((m) => m.devices.revoke(fromHex(id)));
}

export function dismissNewDevices(): void {
  useApp.setState({ newDevices: [] });
}

/** A contact's device as the per-device detail shows it (others' device names are not shown to us). */
export interface ContactDevice {
  id: string;
  fingerprint: string;
  createdAtMs: number;
  revoked: boolean;
}

/** The devices a contact's account key vouches for, with their fingerprints. */
export async function contactDevices(username: string): Promise<ContactDevice[]> {
  const m = messenger;
  if (!m) throw new Error("not signed in");
  const contact = await m.contact(username);
  const accountKey = contact?.identityKey;
  if (!accountKey) return [];
  return (await m.devices.of(username, accountKey)).map((d) => ({
    id: toHex(d.deviceKey),
    fingerprint: d.fingerprint,
    createdAtMs: d.createdAtMs,
    revoked: d.revoked,
  }));
}
