/**
 * Channels against the real gateway process: alice and bob share a channel, mallory (a third
 * registered user) tries to read, inject and impersonate. Every refusal has its registry code and
 * stores nothing. Group channels follow an MLS group made with ts-mls, so the commit-per-epoch and
 * framing checks see real MLS messages.
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientState } from "ts-mls";
import {
  CLASSICAL_SUITE,
  addMembers,
  commit,
  createGroup,
  createIdentity,
  decodeKeyPackage,
  encryptApplication,
  generateKeyPackage,
  suiteImpl,
  type Identity,
} from "@qpq/shared/mls";
import { ErrorCode, type CommitClaims } from "@qpq/shared/protocol";
import { toHex } from "@qpq/shared/bytes";
import { INVITATION_TYPE, MIN_INVITATION_BYTES } from "@qpq/shared/invitations";
import { SQLITE_FILE_NAME } from "../src/store/index.ts";
import { sha256 } from "../src/channels/groupDelivery.ts";
import {
  connectGateway,
  startGatewayProcess,
  uniqueName,
  type GatewayClient,
  type GatewayProcess,
} from "./helpers.ts";

let gw: GatewayProcess;

beforeAll(async () => {
  gw = await startGatewayProcess();
});

afterAll(async () => {
  await gw?.kill();
  gw?.cleanup();
});

interface User {
  name: string;
  identity: Identity;
  key: Uint8Array;
  gw: GatewayClient;
}

async function user(base: string, on: GatewayProcess = gw): Promise<User> {
  const impl = await suiteImpl(CLASSICAL_SUITE);
  const name = uniqueName(base);
  const identity = await createIdentity(name, impl);
  const client = await connectGateway(on.baseUrl);
  const password = `pw-${name}-correct horse`;
  await client.register(name, password, identity.signaturePublicKey);
  await client.login(name, password);
  return { name, identity, key: identity.signaturePublicKey, gw: client };
}

function code(promise: Promise<unknown>, expected: number) {
  return expect(promise).rejects.toMatchObject({ code: expected });
}

const text = (s: string) => new TextEncoder().encode(s);

/** What a commit claims, with nothing for the parts left out. */
const claims = (c: Partial<CommitClaims>): CommitClaims => ({
  addMembers: [],
  removeMembers: [],
  nextTokenHash: new Uint8Array(0),
  ...c,
});

async function payloads(u: User, afterSeq = 0, channelId?: Uint8Array): Promise<string[]> {
  return (await u.gw.fetch(afterSeq, 0, channelId)).envelopes.map((e) => toHex(e.payload));
}

interface Group {
  channel: Uint8Array;
  alice: ClientState;
  bob: ClientState;
}

async function groupOfTwo(alice: User, bob: User): Promise<Group & { token: Uint8Array }> {
  const impl = await suiteImpl(CLASSICAL_SUITE);
  const state = await createGroup(alice.identity, impl);
  const token = new Uint8Array(32).fill(9);
  const channel = await alice.gw.createChannel(state.groupContext.groupId, [], 0, sha256(token));
  const bobKp = await generateKeyPackage(bob.identity, impl);
  const added = await addMembers(state, impl, [decodeKeyPackage(bobKp.encoded)]);
  // The commit that adds bob makes him a member; only then may his Welcome go through the channel.
  await alice.gw.enqueueToChannel(channel, added.commit, {
    commit: claims({ addMembers: [bob.key], nextTokenHash: sha256(token) }),
  });
  await alice.gw.enqueueToChannel(channel, added.welcome!, { recipientKey: bob.key });
  return { channel, alice: added.state, bob: added.state, token };
}

describe("a conversation of two", () => {
  it("is a group channel: a stranger can neither read it, inject into it, nor reach a member without one", async () => {
    const [alice, bob, mallory] = await Promise.all([user("alice"), user("bob"), user("mallory")]);
    const impl = await suiteImpl(CLASSICAL_SUITE);
    const g = await groupOfTwo(alice, bob);
    expect(g.channel.length).toBe(16);
    const app = await encryptApplication(g.alice, impl, text("hello bob"));
    await alice.gw.enqueueToChannel(g.channel, app.message);
    const bobHas = await payloads(bob, 0, g.channel);
    expect(bobHas.at(-1)).toBe(toHex(app.message));

    // Mallory cannot inject into it, towards either member or both.
    await code(mallory.gw.enqueueToChannel(g.channel, app.message), ErrorCode.ChannelForbidden);
    for (const recipientKey of [alice.key, bob.key]) {
      await code(
        mallory.gw.enqueueToChannel(g.channel, app.message, { recipientKey }),
        ErrorCode.ChannelForbidden,
      );
    }
    // Nor queue to either of them without a channel: there is no direct path any more.
    for (const recipientKey of [alice.key, bob.key]) {
      await code(
        mallory.gw.enqueueToChannel(new Uint8Array(0), text("evil"), { recipientKey }),
        ErrorCode.InvalidArgument,
      );
    }
    await code(mallory.gw.enqueueToChannel(new Uint8Array(0), text("evil")), ErrorCode.InvalidArgument);
    // Nor read it: fetch and subscribe narrowed to their channel are refused.
    await code(mallory.gw.fetch(0, 0, g.channel), ErrorCode.ChannelForbidden);
    await code(mallory.gw.subscribe(0, g.channel), ErrorCode.ChannelForbidden);
    // A channel she makes always has her in it, and needs members who exist.
    const hers = await mallory.gw.createChannel(crypto.getRandomValues(new Uint8Array(16)), [bob.key], 0);
    expect(hers).not.toEqual(g.channel);
    expect(await mallory.gw.fetch(0, 0, hers)).toMatchObject({ envelopes: [] });
    await code(
      mallory.gw.createChannel(crypto.getRandomValues(new Uint8Array(16)), [new Uint8Array(32)], 0),
      ErrorCode.UnknownRecipient,
    );
    // An unknown channel looks exactly like a foreign one.
    await code(
      alice.gw.enqueueToChannel(new Uint8Array(16).fill(7), app.message),
      ErrorCode.ChannelForbidden,
    );
    await code(alice.gw.fetch(0, 0, new Uint8Array(16).fill(7)), ErrorCode.ChannelForbidden);
    await code(alice.gw.enqueueToChannel(new Uint8Array(5), app.message), ErrorCode.InvalidArgument);

    // Nothing of the refused attempts was stored.
    expect(await payloads(bob)).toEqual(bobHas);
    expect(await payloads(alice)).toEqual([]);
    expect(await payloads(mallory)).toEqual([]);
    for (const u of [alice, bob, mallory]) u.gw.close();
  });
});

describe("group channels", () => {
  it("fans one upload out to the other members, and only members may send", async () => {
    const [alice, bob, mallory] = await Promise.all([user("alice"), user("bob"), user("mallory")]);
    const impl = await suiteImpl(CLASSICAL_SUITE);
    const g = await groupOfTwo(alice, bob);
    expect(await payloads(bob)).toHaveLength(1); // the Welcome; the commit went to the members before it

    const app = await encryptApplication(g.alice, impl, text("hi"));
    expect(await alice.gw.enqueueToChannel(g.channel, app.message)).toBeGreaterThan(0);
    expect((await payloads(bob)).at(-1)).toBe(toHex(app.message));
    expect(await payloads(alice)).toEqual([]); // no echo to the identity-bound sender

    await code(mallory.gw.enqueueToChannel(g.channel, app.message), ErrorCode.ChannelForbidden);
    await code(mallory.gw.fetch(0, 0, g.channel), ErrorCode.ChannelForbidden);
    await code(mallory.gw.subscribe(0, g.channel), ErrorCode.ChannelForbidden);
    // Nor can she open a second channel for their group, or add herself through a commit.
    await code(
      mallory.gw.createChannel(g.alice.groupContext.groupId, [alice.key, bob.key], 1),
      ErrorCode.ChannelForbidden,
    );
    const sneaky = await commit(app.state, impl);
    await code(
      mallory.gw.enqueueToChannel(g.channel, sneaky.commit, {
        commit: claims({ addMembers: [mallory.key] }),
      }),
      ErrorCode.ChannelForbidden,
    );
    // Garbage and other groups' messages are refused.
    await code(alice.gw.enqueueToChannel(g.channel, text("not mls")), ErrorCode.InvalidArgument);
    const other = await encryptApplication(await createGroup(alice.identity, impl), impl, text("x"));
    await code(alice.gw.enqueueToChannel(g.channel, other.message), ErrorCode.StaleEpoch);
    // A membership claim only travels with a commit.
    await code(
      alice.gw.enqueueToChannel(g.channel, app.message, { commit: claims({ addMembers: [mallory.key] }) }),
      ErrorCode.InvalidArgument,
    );

    expect(await payloads(mallory)).toEqual([]);
    expect(await payloads(bob)).toHaveLength(2);
    for (const u of [alice, bob, mallory]) u.gw.close();
  });

  it("lets a sealed invitation through to one member, recognised by its type byte only", async () => {
    const [alice, bob, mallory] = await Promise.all([user("alice"), user("bob"), user("mallory")]);
    const g = await groupOfTwo(alice, bob);
    const before = (await payloads(bob)).length;
    // Opaque to the gateway: the type byte, the envelope version, then what only bob can open.
    const invitation = new Uint8Array(MIN_INVITATION_BYTES + 40).fill(0xa5);
    invitation[0] = INVITATION_TYPE;
    invitation[1] = 1;
    expect(await alice.gw.enqueueToChannel(g.channel, invitation, { recipientKey: bob.key })).toBeGreaterThan(
      0,
    );
    expect((await payloads(bob)).at(-1)).toBe(toHex(invitation));
    expect(await payloads(bob)).toHaveLength(before + 1);
    // Still only to a member, and too short to hold an envelope is not an invitation.
    await code(
      alice.gw.enqueueToChannel(g.channel, invitation, { recipientKey: mallory.key }),
      ErrorCode.ChannelForbidden,
    );
    await code(
      alice.gw.enqueueToChannel(g.channel, invitation.subarray(0, 100), { recipientKey: bob.key }),
      ErrorCode.InvalidArgument,
    );
    for (const u of [alice, bob, mallory]) u.gw.close();
  });

  it("accepts one commit per epoch: a rival gets CommitConflict, the same commit again is harmless", async () => {
    const [alice, bob] = await Promise.all([user("alice"), user("bob")]);
    const impl = await suiteImpl(CLASSICAL_SUITE);
    const g = await groupOfTwo(alice, bob);
    const before = (await payloads(bob)).length;

    const first = await commit(g.alice, impl);
    const rival = await commit(g.bob, impl); // same epoch, made concurrently
    await alice.gw.enqueueToChannel(g.channel, first.commit);
    await code(bob.gw.enqueueToChannel(g.channel, rival.commit), ErrorCode.CommitConflict);
    // A retry of the accepted commit (say, after a lost answer) is not stored twice.
    expect(await alice.gw.enqueueToChannel(g.channel, first.commit)).toBe(0);
    expect(await payloads(bob)).toHaveLength(before + 1);
    expect(await payloads(alice)).toEqual([]);

    // Application messages may lag a little behind the channel's epoch, never lead or lag far.
    let state = first.state;
    for (let i = 0; i < 3; i++) {
      const next = await commit(state, impl);
      await alice.gw.enqueueToChannel(g.channel, next.commit);
      state = next.state;
    }
    const ahead = await encryptApplication((await commit(state, impl)).state, impl, text("future"));
    await code(alice.gw.enqueueToChannel(g.channel, ahead.message), ErrorCode.StaleEpoch);
    const stale = await encryptApplication(g.alice, impl, text("old")); // epoch 1, channel at 5
    await code(alice.gw.enqueueToChannel(g.channel, stale.message), ErrorCode.StaleEpoch);
    const recent = await encryptApplication(first.state, impl, text("recent")); // epoch 2: in the window
    await alice.gw.enqueueToChannel(g.channel, recent.message);
    alice.gw.close();
    bob.gw.close();
  });
});

describe("sealed sender", () => {
  it("delivers with a valid delivery token and no identity, refuses a wrong one, and stores no sender", async () => {
    const [alice, bob] = await Promise.all([user("alice"), user("bob")]);
    const impl = await suiteImpl(CLASSICAL_SUITE);
    const state = await createGroup(alice.identity, impl);
    const token = new Uint8Array(32).fill(3);
    const bobKp = await generateKeyPackage(bob.identity, impl);
    const channel = await alice.gw.createChannel(state.groupContext.groupId, [], 0, sha256(token));
    const added = await addMembers(state, impl, [decodeKeyPackage(bobKp.encoded)]);
    await alice.gw.enqueueToChannel(channel, added.commit, {
      commit: claims({ addMembers: [bob.key], nextTokenHash: sha256(token) }),
    });

    // A connection that said hello and nothing else: no session, no identity.
    const anonymous = await connectGateway(gw.baseUrl);
    const app = await encryptApplication(added.state, impl, text("sealed hi"));
    expect(await anonymous.sealedEnqueue(channel, token, app.message)).toBe(2);
    // Every member gets it, the sender too (the gateway must not know whom to leave out).
    expect(await payloads(bob)).toEqual([toHex(app.message)]);
    expect(await payloads(alice)).toEqual([toHex(app.message)]);

    await code(anonymous.sealedEnqueue(channel, new Uint8Array(32), app.message), ErrorCode.ChannelForbidden);
    await code(anonymous.sealedEnqueue(new Uint8Array(16), token, app.message), ErrorCode.ChannelForbidden);
    await code(anonymous.sealedEnqueue(channel, token, added.commit), ErrorCode.InvalidArgument);
    expect(await payloads(bob)).toHaveLength(1);

    // The stored rows: recipient, seq, channel, payload, time. The sender's key appears nowhere.
    const db = new Database(join(gw.dataDir, SQLITE_FILE_NAME), { readonly: true, fileMustExist: true });
    try {
      const columns = (db.prepare("PRAGMA table_info(queue)").all() as { name: string }[]).map((c) => c.name);
      expect(columns.sort()).toEqual([
        "channel_id",
        "enqueued_at_ms",
        "payload",
        "payload_id",
        "recipient_key",
        "seq",
      ]);
      // The shared payload row is the message and nothing else.
      const shared = db.prepare("SELECT * FROM payloads").all() as Record<string, unknown>[];
      for (const row of shared) expect(Object.keys(row).sort()).toEqual(["id", "payload"]);
      const rows = db.prepare("SELECT * FROM queue WHERE channel_id = ?").all(channel) as Record<
        string,
        unknown
      >[];
      expect(rows).toHaveLength(2);
      const aliceHex = toHex(alice.key);
      for (const row of rows) {
        for (const value of Object.values(row)) {
          if (value instanceof Uint8Array && toHex(value) === aliceHex) {
            expect(row.recipient_key).toEqual(Buffer.from(alice.key)); // only as a recipient
          }
        }
      }
    } finally {
      db.close();
    }
    for (const c of [alice.gw, bob.gw, anonymous]) c.close();
  });

  it("a removed member's token works for messages in flight, then stops after the next commit", async () => {
    const [alice, bob] = await Promise.all([user("alice"), user("bob")]);
    const impl = await suiteImpl(CLASSICAL_SUITE);
    const state0 = await createGroup(alice.identity, impl);
    const tokens = [1, 2, 3].map((n) => new Uint8Array(32).fill(n));
    const bobKp = await generateKeyPackage(bob.identity, impl);
    const channel = await alice.gw.createChannel(state0.groupContext.groupId, [], 0, sha256(tokens[0]!));
    const added = await addMembers(state0, impl, [decodeKeyPackage(bobKp.encoded)]);
    await alice.gw.enqueueToChannel(channel, added.commit, {
      commit: claims({ addMembers: [bob.key], nextTokenHash: sha256(tokens[0]!) }),
    });
    // Epoch 1: bob is a member and knows its token. A message of his, sealed, made before his removal:
    const inFlight = await encryptApplication(added.state, impl, text("bye"));

    const removal = await commit(added.state, impl, [{ proposalType: "remove", remove: { removed: 1 } }]);
    await alice.gw.enqueueToChannel(channel, removal.commit, {
      commit: claims({ removeMembers: [bob.key], nextTokenHash: sha256(tokens[1]!) }),
    });
    const anonymous = await connectGateway(gw.baseUrl);
    // Epoch 2 keeps epoch 1's hash: the message in flight still arrives, now only at alice.
    expect(await anonymous.sealedEnqueue(channel, tokens[0]!, inFlight.message)).toBe(1);

    const next = await commit(removal.state, impl);
    await alice.gw.enqueueToChannel(channel, next.commit, {
      commit: claims({ nextTokenHash: sha256(tokens[2]!) }),
    });
    const late = await encryptApplication(added.state, impl, text("still here?"));
    await code(anonymous.sealedEnqueue(channel, tokens[0]!, late.message), ErrorCode.ChannelForbidden);
    // And identity-bound he is no member any more.
    const current = await encryptApplication(next.state, impl, text("x"));
    await code(bob.gw.enqueueToChannel(channel, current.message), ErrorCode.ChannelForbidden);
    for (const c of [alice.gw, bob.gw, anonymous]) c.close();
  });
});
