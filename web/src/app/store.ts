import { create } from "zustand";
import type { ConnectionStatus, Conversation, MessageRecord } from "@qpq/shared/client";

export interface ContactState {
  verified: boolean;
  keyChanged: boolean;
  impostor: boolean;
  safetyNumber: string;
}

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
  authError: undefined,
}));
