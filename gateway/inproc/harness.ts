/**
 * Actors (a user with a device store and a Messenger) on an in-process gateway, and event-driven
 * waiting. Registration runs argon2id on the client twice (register, then login), about a tenth of a
 * second each, so files register their actors once and share them across tests.
 */
import {
  GatewayClient,
  MemoryClientStore,
  Messenger,
  type MessageRecord,
  type MessengerOptions,
} from "@qpq/shared/client";
import { DEFAULT_SUITE, createIdentity, suiteImpl } from "@qpq/shared/mls";
import type { InProcessGateway } from "../src/testing/index.ts";

/** The cheaper serenity-kit preset, a small KeyPackage stock, quick proposal fallbacks. */
export const FAST: Partial<MessengerOptions> = {
  keyStretching: "memory-constrained",
  keyPackageStock: 3,
  proposalFallbackStepMs: 5,
};

export interface Actor {
  name: string;
  password: string;
  store: MemoryClientStore;
  messenger: Messenger;
  client: GatewayClient;
  /** Every message received (status "received"), in arrival order, across messenger restarts. */
  received: MessageRecord[];
  errors: unknown[];
}

let counter = 0;

/**
 * An actor whose account and session were written straight into the gateway's store (no OPAQUE, no
 * argon2id): milliseconds instead of a quarter second. For everything but login itself.
 */
export async function seedActor(
  gw: InProcessGateway,
  base: string,
  options: Partial<MessengerOptions> = {},
  sessionTtlMs?: number,
): Promise<Actor> {
  return seedNamedActor(gw, `${base}${++counter}`, options, sessionTtlMs);
}

/** seedActor under exactly this name (unique per gateway), for runs that must replay identically. */
export async function seedNamedActor(
  gw: InProcessGateway,
  name: string,
  options: Partial<MessengerOptions> = {},
  sessionTtlMs?: number,
): Promise<Actor> {
  const suite = options.suite ?? DEFAULT_SUITE;
  const identity = await createIdentity(name, await suiteImpl(suite));
  const store = new MemoryClientStore();
  await store.putAccount({ ...identity, suite, createdAtMs: Date.now() });
  const token = await gw.seedAccount(name, identity.signaturePublicKey, sessionTtlMs);
  const client = await GatewayClient.connect(gw.connect());
  const messenger = await Messenger.resume(client, token, store, { ...FAST, ...options });
  return track({ name, password: "", store, messenger, client, received: [], errors: [] });
}

export async function registerActor(
  gw: InProcessGateway,
  base: string,
  options: Partial<MessengerOptions> = {},
): Promise<Actor> {
  const name = `${base}${++counter}`;
  const password = `pw-${name}-correct horse`;
  const store = new MemoryClientStore();
  const client = await GatewayClient.connect(gw.connect());
  const messenger = await Messenger.register(client, name, password, { store, ...FAST, ...options });
  return track({ name, password, store, messenger, client, received: [], errors: [] });
}

/** The actor's device on a fresh connection with its session token: no password, no argon2id. */
export async function resumeActor(
  gw: InProcessGateway,
  actor: Actor,
  options: Partial<MessengerOptions> = {},
): Promise<Actor> {
  actor.messenger.close();
  // A detached messenger leaves its connection open, and that connection's pushes would still reach
  // the old messenger, which would then process them into the same store as the new one.
  actor.client.close();
  const client = await GatewayClient.connect(gw.connect());
  const messenger = await Messenger.resume(client, actor.messenger.login.sessionToken, actor.store, {
    ...FAST,
    ...options,
  });
  return adopt(actor, messenger, client);
}

/** Makes messenger the actor's current one (events of earlier messengers are ignored from now on). */
export function adopt(actor: Actor, messenger: Messenger, client: GatewayClient): Actor {
  actor.messenger = messenger;
  actor.client = client;
  return track(actor);
}

function track(actor: Actor): Actor {
  const messenger = actor.messenger;
  // Actors are long-running clients: proposal commits and key rotation run in the background.
  messenger.start();
  messenger.on("message", (m) => {
    if (m.status === "received" && actor.messenger === messenger) actor.received.push(m);
  });
  messenger.on("error", (error) => actor.errors.push(error));
  return actor;
}

/**
 * Resolves once check() holds. Re-checks whenever any of the actors reports a message or
 * conversation change, and on every macrotask while background work (acks, proposal fallbacks) is
 * pending; fails after timeoutMs with `what` in the message.
 */
export async function until(
  actors: Actor[],
  what: string | (() => string),
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let wake: (() => void) | undefined;
  const offs = actors.flatMap((a) =>
    (["message", "conversation"] as const).map((event) => a.messenger.on(event, () => wake?.())),
  );
  try {
    while (!(await check())) {
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms: ${typeof what === "string" ? what : what()}`);
      }
      // Woken by an event, or after the next timer phase so timer-driven work gets to run.
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 5);
      });
    }
  } finally {
    for (const off of offs) off();
  }
}

export function texts(actor: Actor, groupId: string): string[] {
  return actor.received.filter((m) => m.groupId === groupId).map((m) => m.text);
}

export async function memberNames(actor: Actor, groupId: string): Promise<string[]> {
  return (await actor.messenger.members(groupId)).map((m) => m.username ?? "?").sort();
}

export async function epochOf(actor: Actor, groupId: string): Promise<number> {
  const group = (await actor.messenger.conversations()).find((g) => g.id === groupId);
  return group?.epoch ?? -1;
}

/** Creates a group of the first actor with the others and waits until every one has joined. */
export async function groupOf(actors: Actor[], name = "group"): Promise<string> {
  const [owner, ...others] = actors;
  const groupId = await owner!.messenger.createConversation(
    name,
    others.map((a) => a.name),
  );
  await until(actors, `everyone joins ${name}`, async () => {
    for (const actor of others) {
      if (!(await actor.messenger.conversations()).some((g) => g.id === groupId)) return false;
    }
    return true;
  });
  return groupId;
}
