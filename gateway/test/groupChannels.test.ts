/**
 * The client core on group channels, against the real gateway: conversations carry their channel,
 * concurrent commits resolve through CommitConflict and a rebuild, and sealed sending delivers with
 * the sender known only inside MLS.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  commit,
  createIdentity,
  decodeState,
  deliveryToken,
  deliveryTokenHash,
  encodeState,
  generateKeyPackage,
  suiteImpl,
} from "@qpq/shared/mls";
import { ErrorCode } from "@qpq/shared/protocol";
import { fromHex } from "@qpq/shared/bytes";
import { MemoryClientStore, Messenger } from "@qpq/shared/client";
import {
  loginAsDevice,
  FAST,
  connectGateway,
  reconnectActor,
  registerActor,
  startGatewayProcess,
  uniqueName,
  waitForConversation,
  waitForMessages,
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

describe("conversations on group channels", () => {
  it("both sides know the conversation's channel, and mallory cannot read it", async () => {
    const [alice, bob, mallory] = await Promise.all([
      registerActor(gw, "alice"),
      registerActor(gw, "bob"),
      registerActor(gw, "mallory"),
    ]);
    const groupId = await alice.messenger.createConversation("", [bob.name]);
    await waitForConversation(bob);
    await alice.messenger.send(groupId, "over the channel");
    await waitForMessages(bob, groupId, 1);

    const atAlice = (await alice.messenger.conversations()).find((c) => c.id === groupId);
    const atBob = (await bob.messenger.conversations()).find((c) => c.id === groupId);
    expect(atAlice?.channelId).toMatch(/^[0-9a-f]{32}$/);
    expect(atBob?.channelId).toBe(atAlice?.channelId);
    // The Welcome came as alice's signed invitation.
    expect(atBob?.invitedBy).toBe(alice.name);
    expect(atAlice?.invitedBy).toBeUndefined();

    const probe = await loginAsDevice(gw, mallory);
    await expect(probe.fetch(0, 0, fromHex(atAlice!.channelId))).rejects.toMatchObject({
      code: ErrorCode.ChannelForbidden,
    });
    probe.close();
    for (const a of [alice, bob, mallory]) a.messenger.close();
  });

  it("refuses to invite a user without a hybrid key (NoHybridKey) before committing anything", async () => {
    const alice = await registerActor(gw, "alice");
    // A client that registered and published a KeyPackage but never a hybrid key: not the Messenger,
    // which publishes one at every login.
    const impl = await suiteImpl();
    const name = uniqueName("keyless");
    const identity = await createIdentity(name, impl);
    const keyless = await connectGateway(gw.baseUrl);
    await keyless.register(name, `pw-${name}-correct horse`, identity.signaturePublicKey);
    await keyless.login(name, `pw-${name}-correct horse`);
    await keyless.publishKeyPackages([(await generateKeyPackage(identity, impl)).encoded]);

    const groupId = await alice.messenger.createConversation("", []);
    const before = (await alice.messenger.conversations()).find((c) => c.id === groupId)!;
    await expect(alice.messenger.invite(groupId, [name])).rejects.toMatchObject({
      code: ErrorCode.NoHybridKey,
    });
    const after = (await alice.messenger.conversations()).find((c) => c.id === groupId)!;
    expect(after.epoch).toBe(before.epoch);
    expect(after.pendingCommit).toBeUndefined();
    expect((await keyless.fetch(0, 0)).envelopes).toEqual([]);
    keyless.close();
    alice.messenger.close();
  });

  it("two members committing in the same epoch: one wins, the other rebuilds on the new epoch", async () => {
    const [alice, bob] = await Promise.all([registerActor(gw, "alice"), registerActor(gw, "bob")]);
    const groupId = await alice.messenger.createConversation("race", [bob.name]);
    await waitForConversation(bob);
    await bob.messenger.settled();
    const startEpoch = (await bob.messenger.conversations())[0]!.epoch;

    let aliceDone!: () => void;
    const aliceAccepted = new Promise<void>((resolve) => (aliceDone = resolve));
    // Bob builds his first attempt on the old epoch and sends it only after alice's commit won.
    const bobCommits = bob.messenger.commits.commitChange(groupId, async (state) => {
      if (state.groupContext.epoch === BigInt(startEpoch)) await aliceAccepted;
      const out = await commit(state, await suiteImpl());
      return { commit: out.commit, newState: out.state, added: [], removed: [] };
    });
    const aliceCommit = await alice.messenger.commits.commitChange(groupId, async (state) => {
      const out = await commit(state, await suiteImpl());
      return { commit: out.commit, newState: out.state, added: [], removed: [] };
    });
    aliceDone();
    const bobCommit = await bobCommits;
    expect(aliceCommit.attempts).toBe(1);
    expect(bobCommit.attempts).toBe(2);

    // Both end in the same epoch and can still talk.
    await alice.messenger.send(groupId, "after the race");
    await waitForMessages(bob, groupId, 1);
    await bob.messenger.send(groupId, "agreed");
    await waitForMessages(alice, groupId, 1);
    const epochs = await Promise.all(
      [alice, bob].map(async (a) => (await a.messenger.conversations()).find((c) => c.id === groupId)!.epoch),
    );
    expect(epochs).toEqual([startEpoch + 2, startEpoch + 2]);
    alice.messenger.close();
    bob.messenger.close();
  });
});

describe("a commit whose answer was lost", () => {
  it("is sent again after a restart, answered as a duplicate, and adopted", async () => {
    let alice = await registerActor(gw, "alice");
    const bob = await registerActor(gw, "bob");
    const groupId = await alice.messenger.createConversation("", [bob.name]);
    await waitForConversation(bob);
    await bob.messenger.settled();
    alice.messenger.close();

    // What alice's device had done just before it crashed: stored the pending commit, sent it, and
    // the gateway accepted it; the answer never arrived.
    const impl = await suiteImpl();
    const record = (await alice.store.getGroup(groupId))!;
    const made = await commit(decodeState(record.state), impl);
    const nextTokenHash = deliveryTokenHash(await deliveryToken(made.state, impl));
    await alice.store.putGroup({
      ...record,
      pendingCommit: {
        commit: made.commit,
        state: encodeState(made.state),
        added: [],
        removed: [],
        nextTokenHash,
      },
    });
    const direct = await loginAsDevice(gw, alice);
    await direct.enqueueToChannel(fromHex(record.channelId), made.commit, {
      commit: { addMembers: [], removeMembers: [], nextTokenHash },
    });
    direct.close();

    alice = await reconnectActor(gw, alice);
    const after = (await alice.store.getGroup(groupId))!;
    expect(after.epoch).toBe(record.epoch + 1);
    expect(after.pendingCommit).toBeUndefined();
    // Bob processed the commit; alice, now in the same epoch, is understood.
    await alice.messenger.send(groupId, "same epoch again");
    await waitForMessages(bob, groupId, 1);
    alice.messenger.close();
    bob.messenger.close();
  });
});

describe("sealed sending from the client core", () => {
  it("delivers through an anonymous connection; the sender is known only inside MLS and drops its echo", async () => {
    const bob = await registerActor(gw, "bob");
    const name = uniqueName("alice");
    const password = `pw-${name}-correct horse`;
    const alice = await Messenger.register(await connectGateway(gw.baseUrl), name, password, {
      store: new MemoryClientStore(),
      ...FAST,
      sealedConnection: () => connectGateway(gw.baseUrl),
    });
    const groupId = await alice.createConversation("", [bob.name]);
    await waitForConversation(bob);
    const sent = await alice.send(groupId, "sealed hello");
    expect(sent.status).toBe("sent");
    const [got] = await waitForMessages(bob, groupId, 1);
    expect(got).toMatchObject({ text: "sealed hello", sender: name });

    // The echo came back to alice (the gateway fans sealed messages out to every member) and was dropped:
    // she has her one sent message, no duplicate and nothing undecryptable.
    await alice.sync();
    await alice.settled();
    expect((await alice.messages(groupId)).map((m) => [m.text, m.status])).toEqual([
      ["sealed hello", "sent"],
    ]);
    alice.close();
    bob.messenger.close();
  });

  it("with jitter, every message still arrives, each decryptable", async () => {
    const bob = await registerActor(gw, "bob");
    const name = uniqueName("alice");
    const delays = [0.9, 0.1, 0.5];
    const alice = await Messenger.register(
      await connectGateway(gw.baseUrl),
      name,
      `pw-${name}-correct horse`,
      {
        store: new MemoryClientStore(),
        ...FAST,
        sendJitterMs: 40,
        random: () => delays.shift() ?? 0,
      },
    );
    const groupId = await alice.createConversation("", [bob.name]);
    await waitForConversation(bob);
    const sent = await Promise.all(["one", "two", "three"].map((text) => alice.send(groupId, text)));
    expect(sent.map((m) => m.status)).toEqual(["sent", "sent", "sent"]);
    const got = await waitForMessages(bob, groupId, 3);
    expect(got.map((m) => m.text).sort()).toEqual(["one", "three", "two"]);
    expect(got.every((m) => m.status === "received")).toBe(true);
    alice.close();
    bob.messenger.close();
  });
});
