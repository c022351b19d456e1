/**
 * Abuse of group channels by members, former members and strangers, run against the real handlers
 * and MemoryStore in one process so that interleavings the network makes rare can be forced. The
 * payloads are bare MLS framings (the gateway reads nothing else).
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ErrorCode, QpqError, type CommitClaims } from "@qpq/shared/protocol";
import { toHex } from "@qpq/shared/bytes";
import { INVITATION_TYPE, MIN_INVITATION_BYTES } from "@qpq/shared/invitations";
import { loadConfig } from "../config.ts";
import { DeviceDirectory } from "../services/deviceDirectory.ts";
import { Delivery } from "../delivery/delivery.ts";
import { handlers, type ConnectionState, type Services } from "../services/index.ts";
import { LoginRegistry } from "../services/loginRegistry.ts";
import { Metrics } from "../services/metrics.ts";
import { SessionRegistry } from "../services/sessionRegistry.ts";
import { Throttle } from "../services/throttle.ts";
import { MemoryStore } from "../store/memoryStore.ts";
import type { OpaqueServer } from "../services/opaque.ts";
import { enqueueToGroup, sha256 } from "./groupDelivery.ts";

const rand = (n: number) => new Uint8Array(randomBytes(n));
const NONE = new Uint8Array(0);

/** An MLS PrivateMessage header (RFC 9420 section 6.3) and some ciphertext-looking bytes. */
function privateMessage(groupId: Uint8Array, epoch: number, contentType: 1 | 2 | 3): Uint8Array {
  const out = [0, 1, 0, 2, groupId.length, ...groupId];
  for (let shift = 56; shift >= 0; shift -= 8) out.push(Number((BigInt(epoch) >> BigInt(shift)) & 0xffn));
  out.push(contentType, ...rand(40));
  return new Uint8Array(out);
}
const COMMIT = 3;
const APPLICATION = 1;

function gateway(env: Record<string, string> = {}) {
  const config = loadConfig({ QPQ_STORE: "memory", ...env });
  const store = new MemoryStore();
  const now = () => Date.now();
  const services: Services = {
    config,
    store,
    opaque: undefined as unknown as OpaqueServer,
    logins: new LoginRegistry(config.limits.maxPendingLogins, now),
    delivery: new Delivery(store, config.limits, now),
    devices: new DeviceDirectory(store),
    throttle: new Throttle(now, config.limits.rateLimits),
    sessions: new SessionRegistry(),
    metrics: new Metrics(),
    now,
    startedAtMs: now(),
  };
  let nextId = 1;
  async function user(name: string): Promise<ConnectionState & { key: Uint8Array }> {
    const key = rand(32);
    await store.createUser({ username: name, identityKey: key, opaqueRecord: "x", createdAtMs: now() });
    return {
      key,
      id: nextId++,
      remoteAddress: "127.0.0.1",
      version: 1,
      session: {
        username: name,
        identityKey: key,
        deviceKey: key,
        tokenHash: rand(32),
        expiresAtMs: now() + 60_000,
      },
      subscribe: () => {},
      endSession: () => {},
    };
  }
  const anonymous: ConnectionState = {
    id: nextId++,
    remoteAddress: "127.0.0.1",
    version: 1,
    session: undefined,
    subscribe: () => {},
    endSession: () => {},
  };
  return { services, store, user, anonymous };
}

type Conn = ConnectionState & { key: Uint8Array };

/** An upload fanned out to the other members; claims (if any) travel as the commit's. */
function enqueue(
  services: Services,
  conn: Conn,
  channelId: Uint8Array,
  payload: Uint8Array,
  claims?: Partial<CommitClaims>,
) {
  const commit = claims && { addMembers: [], removeMembers: [], nextTokenHash: NONE, ...claims };
  return handlers.enqueue({ recipientKey: NONE, channelId, payload, commit }, conn, services);
}

async function errorOf(promise: Promise<unknown>): Promise<{ code: number; detail: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof QpqError) return { code: error.code, detail: error.detail };
    throw error;
  }
  throw new Error("expected a refusal");
}

describe("group channel membership claims", () => {
  it("a removeMembers list naming one member twice cannot push the group past the member limit", async () => {
    const { services, store, user } = gateway({ QPQ_MAX_GROUP_MEMBERS: "3" });
    const [alice, bob, carol, dave, erin] = await Promise.all(
      ["alice", "bob", "carol", "dave", "erin"].map(user),
    );
    const groupId = rand(16);
    const { channelId } = await handlers.createChannel(
      { groupId, members: [bob!.key, carol!.key], epoch: 0, tokenHash: NONE },
      alice!,
      services,
    );
    const refused = errorOf(
      enqueue(services, alice!, channelId, privateMessage(groupId, 0, COMMIT), {
        removeMembers: [carol!.key, carol!.key],
        addMembers: [dave!.key, erin!.key],
      }),
    );
    expect((await refused).code).toBe(ErrorCode.InvalidArgument);
    expect(await store.getChannelMembers(channelId)).toHaveLength(3);
  });

  it("a member removed while its commit was in flight cannot re-add itself with a commit for the next epoch", async () => {
    const { services, store, user } = gateway();
    const [alice, mallory] = await Promise.all(["alice", "mallory"].map(user));
    const groupId = rand(16);
    const { channelId } = await handlers.createChannel(
      { groupId, members: [mallory!.key], epoch: 0, tokenHash: NONE },
      alice!,
      services,
    );
    // Mallory's request passed the membership check and read the channel (epoch 0)...
    const seenByMallory = (await store.getChannel(channelId))!;
    expect(await store.isChannelMember(channelId, mallory!.key)).toBe(true);
    // ...then alice's commit removing her is accepted (epoch 0 -> 1)...
    await enqueue(services, alice!, channelId, privateMessage(groupId, 0, COMMIT), {
      removeMembers: [mallory!.key],
    });
    // ...and mallory's fabricated "commit" for epoch 1 reaches the store.
    const attempt = enqueueToGroup(
      services,
      seenByMallory,
      { account: mallory!.key, device: mallory!.key },
      NONE,
      privateMessage(groupId, 1, COMMIT),
      { add: [mallory!.key], remove: [alice!.key], nextTokenHash: NONE },
    );
    expect((await errorOf(attempt)).code).toBe(ErrorCode.CommitConflict);
    expect((await store.getChannelMembers(channelId)).map(toHex)).toEqual([toHex(alice!.key)]);
    expect((await store.getChannel(channelId))!.epoch).toBe(1);
  });

  it("a non-member cannot commit into a channel, nor send into it", async () => {
    const { services, store, user } = gateway();
    const [alice, bob, mallory] = await Promise.all(["alice", "bob", "mallory"].map(user));
    const groupId = rand(16);
    const { channelId } = await handlers.createChannel(
      { groupId, members: [bob!.key], epoch: 0, tokenHash: NONE },
      alice!,
      services,
    );
    const attempt = enqueue(services, mallory!, channelId, privateMessage(groupId, 0, COMMIT), {
      addMembers: [mallory!.key],
      removeMembers: [bob!.key],
    });
    expect((await errorOf(attempt)).code).toBe(ErrorCode.ChannelForbidden);
    expect(await store.isChannelMember(channelId, mallory!.key)).toBe(false);
    expect(await store.isChannelMember(channelId, bob!.key)).toBe(true);
    const app = enqueue(services, mallory!, channelId, privateMessage(groupId, 0, APPLICATION));
    expect((await errorOf(app)).code).toBe(ErrorCode.ChannelForbidden);
  });
});

describe("enqueue without a shared channel", () => {
  it("a stranger reaches nobody's queue: no channel, a made-up one or someone else's", async () => {
    const { services, store, user } = gateway();
    const [alice, bob, mallory] = await Promise.all(["alice", "bob", "mallory"].map(user));
    const groupId = rand(16);
    const { channelId } = await handlers.createChannel(
      { groupId, members: [bob!.key], epoch: 0, tokenHash: NONE },
      alice!,
      services,
    );
    const app = privateMessage(groupId, 0, APPLICATION);
    const attempts = [
      // The old direct path: an empty channel id naming only a recipient.
      { channelId: NONE, recipientKey: bob!.key, code: ErrorCode.InvalidArgument },
      { channelId: NONE, recipientKey: NONE, code: ErrorCode.InvalidArgument },
      { channelId: rand(5), recipientKey: bob!.key, code: ErrorCode.InvalidArgument },
      // An unknown channel answers exactly as a foreign one.
      { channelId: rand(16), recipientKey: NONE, code: ErrorCode.ChannelForbidden },
      { channelId, recipientKey: NONE, code: ErrorCode.ChannelForbidden },
      { channelId, recipientKey: bob!.key, code: ErrorCode.ChannelForbidden },
    ];
    for (const { code, ...request } of attempts) {
      const refused = await errorOf(handlers.enqueue({ ...request, payload: app }, mallory!, services));
      expect(refused.code).toBe(code);
    }
    const unknown = await errorOf(enqueue(services, mallory!, rand(16), app));
    expect(await errorOf(enqueue(services, mallory!, channelId, app))).toEqual(unknown);
    for (const u of [alice!, bob!, mallory!]) expect(await store.queueDepth(u.key)).toBe(0);
  });
});

describe("sealed enqueue without a valid token", () => {
  it("answers exactly as for an unknown channel: no group, epoch or content-type oracle", async () => {
    const { services, user, anonymous } = gateway();
    const alice = await user("alice");
    const groupId = rand(16);
    const token = rand(32);
    const { channelId } = await handlers.createChannel(
      { groupId, members: [], epoch: 5, tokenHash: sha256(token) },
      alice,
      services,
    );
    const sealed = (channel: Uint8Array, payload: Uint8Array, deliveryToken = rand(32)) =>
      errorOf(handlers.sealedEnqueue({ channelId: channel, deliveryToken, payload }, anonymous, services));

    const unknown = await sealed(rand(16), privateMessage(groupId, 5, APPLICATION));
    expect(unknown.code).toBe(ErrorCode.ChannelForbidden);
    const probes = [
      await sealed(channelId, privateMessage(rand(16), 5, APPLICATION)), // another group
      await sealed(channelId, privateMessage(groupId, 6, APPLICATION)), // epoch ahead
      await sealed(channelId, privateMessage(groupId, 0, APPLICATION)), // epoch far behind
      await sealed(channelId, privateMessage(groupId, 5, APPLICATION)), // right epoch, wrong token
    ];
    for (const probe of probes) expect(probe).toEqual(unknown);
    // A commit is refused for what it is, whether or not the channel exists.
    const commitHere = await sealed(channelId, privateMessage(groupId, 5, COMMIT));
    const commitNowhere = await sealed(rand(16), privateMessage(groupId, 5, COMMIT));
    expect(commitHere).toEqual(commitNowhere);
    // The holder of the token still gets through.
    const ok = await handlers.sealedEnqueue(
      {
        channelId,
        deliveryToken: token,
        payload: privateMessage(groupId, 5, APPLICATION),
      },
      anonymous,
      services,
    );
    expect(ok.recipients).toBe(1);
  });
});

describe("channel creation", () => {
  it("is rate limited per session: nobody can fill the store with channels", async () => {
    const { services, user } = gateway({ QPQ_CHANNEL_CREATE_PER_SESSION: "3/1" });
    const [mallory, victim] = await Promise.all(["mallory", "victim"].map(user));
    const create = () =>
      handlers.createChannel(
        { groupId: rand(16), members: [victim!.key], epoch: 0, tokenHash: NONE },
        mallory!,
        services,
      );
    for (let i = 0; i < 3; i++) await create();
    expect((await errorOf(create())).code).toBe(ErrorCode.RateLimited);
  });

  it("refuses an oversized member list before looking any member up", async () => {
    const { services, store, user } = gateway({ QPQ_MAX_GROUP_MEMBERS: "2" });
    const alice = await user("alice");
    let lookups = 0;
    const lookup = store.getUserByIdentity.bind(store);
    store.getUserByIdentity = (key) => {
      lookups++;
      return lookup(key);
    };
    const members = Array.from({ length: 50 }, () => rand(32));
    const attempt = handlers.createChannel(
      { groupId: rand(16), members, epoch: 0, tokenHash: NONE },
      alice,
      services,
    );
    expect((await errorOf(attempt)).code).toBe(ErrorCode.InvalidArgument);
    expect(lookups).toBe(0);
  });
});

describe("a member whose queue is full", () => {
  it("does not stop the group: messages reach the others and a commit removing that member goes through", async () => {
    const { services, store, user } = gateway({ QPQ_MAX_QUEUED: "3" });
    const [alice, bob, carol, mallory] = await Promise.all(["alice", "bob", "carol", "mallory"].map(user));
    const groupId = rand(16);
    const { channelId } = await handlers.createChannel(
      { groupId, members: [bob!.key, carol!.key], epoch: 0, tokenHash: NONE },
      alice!,
      services,
    );
    // Anyone may put anyone into a channel of their own and fill their queue through it
    // (docs/SECURITY-AUDIT.md R9); bob also simply may not drain it.
    const spamGroup = rand(16);
    const spam = await handlers.createChannel(
      { groupId: spamGroup, members: [bob!.key], epoch: 0, tokenHash: NONE },
      mallory!,
      services,
    );
    const spamMessage = () =>
      enqueue(services, mallory!, spam.channelId, privateMessage(spamGroup, 0, APPLICATION));
    for (let i = 0; i < 3; i++) expect(await spamMessage()).toMatchObject({ seq: i + 1 });
    // Beyond the limit a fan-out skips the full queue; a payload for bob alone is refused.
    expect(await spamMessage()).toEqual({ seq: 0 });
    const invitation = new Uint8Array(MIN_INVITATION_BYTES + 8).fill(0xa5);
    invitation[0] = INVITATION_TYPE;
    invitation[1] = 1;
    const directed = handlers.enqueue(
      { recipientKey: bob!.key, channelId: spam.channelId, payload: invitation },
      mallory!,
      services,
    );
    expect((await errorOf(directed)).code).toBe(ErrorCode.QueueFull);

    const app = privateMessage(groupId, 0, APPLICATION);
    expect(await enqueue(services, alice!, channelId, app)).toMatchObject({ seq: 1 });
    expect((await store.fetch(carol!.key, 0, 10)).map((e) => toHex(e.payload))).toEqual([toHex(app)]);
    expect(await store.queueDepth(bob!.key)).toBe(3);

    const removal = privateMessage(groupId, 0, COMMIT);
    await enqueue(services, alice!, channelId, removal, { removeMembers: [bob!.key] });
    expect((await store.getChannel(channelId))!.epoch).toBe(1);
    expect(await store.isChannelMember(channelId, bob!.key)).toBe(false);
    // Bob is told of his removal even so: commits may exceed the limit by a bounded margin.
    expect((await store.fetch(bob!.key, 0, 10)).map((e) => toHex(e.payload)).at(-1)).toBe(toHex(removal));
  });
});

describe("sealed enqueue", () => {
  it("is rate limited per source address, since it needs no account", async () => {
    const { services, user, anonymous } = gateway({ QPQ_SEALED_PER_ADDRESS: "2/1" });
    const alice = await user("alice");
    const groupId = rand(16);
    const token = rand(32);
    const { channelId } = await handlers.createChannel(
      { groupId, members: [], epoch: 0, tokenHash: sha256(token) },
      alice,
      services,
    );
    const send = () =>
      handlers.sealedEnqueue(
        {
          channelId,
          deliveryToken: token,
          payload: privateMessage(groupId, 0, APPLICATION),
        },
        anonymous,
        services,
      );
    await send();
    await send();
    expect((await errorOf(send())).code).toBe(ErrorCode.RateLimited);
  });
});
