import {
  GatewayClient,
  MemoryClientStore,
  Messenger,
  type MessageRecord,
  type MessengerOptions,
} from "@qpq/shared/client";
import { connectGateway, startGatewayProcess, type GatewayProcess } from "../src/testing/index.ts";

/** Fast Argon2 parameters: these tests are about the protocol, not about key stretching. */
export const FAST = { keyStretching: "memory-constrained" as const, keyPackageStock: 3 };

let counter = 0;
/** Usernames unique per run, so tests never depend on each other's state. */
export function uniqueName(base: string): string {
  return `${base}${process.pid % 1000}x${++counter}`;
}

export interface Actor {
  name: string;
  password: string;
  store: MemoryClientStore;
  messenger: Messenger;
  received: MessageRecord[];
}

export async function registerActor(
  gw: GatewayProcess,
  base: string,
  options: Partial<MessengerOptions> = {},
): Promise<Actor> {
  const name = uniqueName(base);
  const password = `pw-${name}-correct horse`;
  const store = new MemoryClientStore();
  const client = await connectGateway(gw.baseUrl);
  const messenger = await Messenger.register(client, name, password, { store, ...FAST, ...options });
  return track({ name, password, store, messenger, received: [] });
}

/** Logs an existing actor in again on a new connection (same device store). */
export async function reconnectActor(gw: GatewayProcess, actor: Actor): Promise<Actor> {
  const client = await connectGateway(gw.baseUrl);
  const messenger = await Messenger.login(client, actor.name, actor.password, {
    store: actor.store,
    ...FAST,
  });
  return track({ ...actor, messenger, received: [] });
}

function track(actor: Actor): Actor {
  // Long-running actors: proposals are committed and keys rotated on the messenger's own timers.
  actor.messenger.start();
  actor.messenger.on("message", (m) => {
    if (m.status === "received") actor.received.push(m);
  });
  return actor;
}

/** Resolves when the actor has received `count` messages in the conversation (event-driven, bounded). */
export function waitForMessages(
  actor: Actor,
  groupId: string,
  count: number,
  timeoutMs = 20_000,
): Promise<MessageRecord[]> {
  const matching = () => actor.received.filter((m) => m.groupId === groupId);
  return new Promise((resolve, reject) => {
    if (matching().length >= count) return resolve(matching());
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${actor.name} got ${matching().length}/${count} messages`));
    }, timeoutMs);
    const off = actor.messenger.on("message", () => {
      if (matching().length >= count) {
        clearTimeout(timer);
        off();
        resolve(matching());
      }
    });
  });
}

/** Resolves when the actor has joined a conversation (event-driven, bounded). */
export function waitForConversation(actor: Actor, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    void actor.messenger.conversations().then((existing) => {
      if (existing[0]) resolve(existing[0].id);
    });
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${actor.name} joined no conversation`));
    }, timeoutMs);
    const off = actor.messenger.on("conversation", (group) => {
      clearTimeout(timer);
      off();
      resolve(group.id);
    });
  });
}

export { connectGateway, startGatewayProcess, GatewayClient, type GatewayProcess };
