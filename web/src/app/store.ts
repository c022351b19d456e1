import { create } from "zustand";
import type { ConnectionStatus, Conversation, MessageRecord } from "@qpq/shared/client";

export interface ContactState {
  verified: boolean;
  keyChanged: boolean;
  impostor: boolean;
  safetyNumber: string;
}

/** One of this account's devices, as the device list shows it (key as hex: plain data only). */
export interface DeviceState {
  id: string;
  name: string;
  createdAtMs: number;
  lastSeenMs: number;
  revoked: boolean;
  revokedAtMs: number;
  current: boolean;
  fingerprint: string;
}

/** Reading the account's history backup on a new device. */
export type RestoreState = { state: "running" } | { state: "done"; messages: number } | undefined;

export interface AppState {
  phase: "signedOut" | "working" | "ready";
  /** Stored history opened without the gateway: reading only, until an online login. */
  readOnly: boolean;
  me: string | undefined;
  connection: ConnectionStatus;
  connectionDetail: string | undefined;
  /** The core's conversation list (title, members, direct, removed/left), newest activity first. */
  conversations: Conversation[];
  selectedId: string | undefined;
  messages: Record<string, MessageRecord[]>;
  contacts: Record<string, ContactState>;
  /** The last failed action, shown in a dismissible banner. */
  error: string | undefined;
  /** The open conversation's members by username: how many of their devices take part in it. */
  memberDevices: Record<string, number>;
  /** What the main pane shows: the open conversation, or this account's devices. */
  view: "conversation" | "devices";
  /** This account's devices, refreshed when the gateway says the list changed. */
  devices: DeviceState[];
  /** Devices added to the account since this device loaded the list: shown until dismissed. */
  newDevices: string[];
  restore: RestoreState;
  /** Why signing in failed (or why the session ended), shown on the login form. */
  authError: string | undefined;
}

/** Plain data only: the messenger and keys live in the controller, out of reach of the UI state. */
export const useApp = create<AppState>(() => ({
  phase: "signedOut",
  readOnly: false,
  me: undefined,
  connection: "offline",
  connectionDetail: undefined,
  conversations: [],
  selectedId: undefined,
  messages: {},
  contacts: {},
  error: undefined,
  memberDevices: {},
  view: "conversation",
  devices: [],
  newDevices: [],
  restore: undefined,
  authError: undefined,
}));
