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

/**
 * A bare protocol client logged in as the actor and acting for the actor's device (its queue, its
 * KeyPackages): what a second connection of that device does.
 */
export async function loginAsDevice(gw: GatewayProcess, actor: Actor): Promise<GatewayClient> {
  const client = await connectGateway(gw.baseUrl);
  await client.login(actor.name, actor.password, FAST.keyStretching);
  await client.attachDevice(actor.messenger.device);
  return client;
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

/**
 * Resolves when the actor holds `count` received messages in the conversation (event-driven, bounded).
 * The store is the truth, events only wake the check: a messenger starts processing its backlog while
 * login is still returning, before any listener of ours can be attached.
 */
export function waitForMessages(
  actor: Actor,
  groupId: string,
  count: number,
  timeoutMs = 20_000,
): Promise<MessageRecord[]> {
  const received = async () =>
    (await actor.messenger.messages(groupId)).filter((m) => m.status === "received");
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = () => {
      done = true;
      clearTimeout(timer);
      off();
    };
    const check = async () => {
      const got = await received();
      if (!done && got.length >= count) {
        finish();
        resolve(got);
      }
    };
    const timer = setTimeout(() => {
      void received().then((got) => {
        if (done) return;
        finish();
        reject(new Error(`${actor.name} got ${got.length}/${count} messages`));
      });
    }, timeoutMs);
    const off = actor.messenger.on("message", () => void check().catch(reject));
    void check().catch(reject);
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

/**
 * An MLS PrivateMessage (RFC 9420 section 6.3) of the group at the epoch, application content, with
 * random bytes as its ciphertext: the gateway reads only the header, no client can decrypt it.
 */
export function privateMessage(groupId: Uint8Array, epoch = 0n, ciphertextBytes = 32): Uint8Array {
  if (groupId.length >= 64) throw new Error("a one-byte length prefix needs a group id under 64 bytes");
  const headerBytes = 4 + 1 + groupId.length + 8 + 1;
  const out = new Uint8Array(headerBytes + ciphertextBytes);
  out.set([0, 1, 0, 2, groupId.length]); // mls10, private_message, group_id length
  out.set(groupId, 5);
  new DataView(out.buffer).setBigUint64(5 + groupId.length, epoch);
  out[headerBytes - 1] = 1; // application
  // getRandomValues fills at most 64 KiB at a time; tests also need payloads near the 1 MiB limit.
  for (let at = headerBytes; at < out.length; at += 65_536) {
    crypto.getRandomValues(out.subarray(at, Math.min(out.length, at + 65_536)));
  }
  return out;
}

/**
 * A channel of the caller and `members` for a made-up group at epoch 0, for tests of delivery rather
 * than MLS: the gateway accepts privateMessage(groupId) payloads in it.
 */
export async function openChannel(
  client: GatewayClient,
  members: Uint8Array[],
): Promise<{ channelId: Uint8Array; groupId: Uint8Array }> {
  const groupId = crypto.getRandomValues(new Uint8Array(16));
  return { channelId: await client.createChannel(groupId, members, 0), groupId };
}

export { connectGateway, startGatewayProcess, GatewayClient, type GatewayProcess };
