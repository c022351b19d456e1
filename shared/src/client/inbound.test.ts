import { describe, expect, it } from "vitest";
import {
  CLASSICAL_SUITE,
  DEFAULT_SUITE,
  addMembers,
  createGroup,
  createIdentity,
  decodeKeyPackage,
  decodeMessage,
  encryptApplication,
  generateKeyPackage,
  joinFromWelcome,
  policyForSuite,
  suiteImpl,
} from "../mls/index.ts";
import type { Envelope } from "../protocol/index.ts";
import { encodeAppMessage } from "./appMessage.ts";
import { hybridKeyPairFromIdentity } from "../crypto/hybridEnvelope.ts";
import { HybridKeys } from "./hybridKeys.ts";
import { InboundProcessor, MessageIdTakenError, StaleWelcomeError, WrongChannelError } from "./inbound.ts";
import { sealInvitation } from "./invitations.ts";
import { MemoryClientStore } from "./memoryClientStore.ts";
import { ClientSession } from "./session.ts";

/** The channel the conversation travels in (every delivery has one). */
const CHANNEL = new Uint8Array(16).fill(7);
/** Another channel bob shares with a member (a direct conversation, say). */
const OTHER_CHANNEL = new Uint8Array(16).fill(8);

const text = (t: string, id: string) =>
  encodeAppMessage({ kind: "text", id: id.padStart(32, "0"), text: t, sentAtMs: 1 });

describe.each([DEFAULT_SUITE, CLASSICAL_SUITE])("inbound processing (%s)", (suite) => {
  async function scenario(bobKeyPackageLastResort = false) {
    const impl = await suiteImpl(suite);
    const alice = await createIdentity("alice", impl);
    const bob = await createIdentity("bob", impl);
    const carol = await createIdentity("carol", impl);
    const bobKp = await generateKeyPackage(bob, impl);
    const carolKp = await generateKeyPackage(carol, impl);

    const store = new MemoryClientStore();
    await store.putKeyPackages([
      {
        ref: bobKp.ref,
        encoded: bobKp.encoded,
        initPrivateKey: bobKp.privatePackage.initPrivateKey,
        hpkePrivateKey: bobKp.privatePackage.hpkePrivateKey,
        lastResort: bobKeyPackageLastResort,
        createdAtMs: 0,
      },
    ]);
    const session = new ClientSession(bob, suite, impl, store, () => 1000);
    const errors: unknown[] = [];
    session.on("error", (e) => errors.push(e));
    const inbound = new InboundProcessor(
      session,
      () => {},
      () => {},
      new HybridKeys(session),
    );
    // What the inviter's GroupCommits sends: the Welcome sealed to bob as a signed invitation.
    const invite = (welcome: Uint8Array) =>
      sealInvitation({
        inviterKey: alice.signaturePublicKey,
        sign: (m) => impl.signature.sign(alice.signaturePrivateKey, m),
        inviterUsername: "alice",
        channelId: CHANNEL,
        welcome,
        joinerIdentityKey: bob.signaturePublicKey,
        joinerHybridKey: hybridKeyPairFromIdentity(bob.signaturePrivateKey).publicKey,
      });

    let state = await createGroup(alice, impl);
    const addBob = await addMembers(state, impl, [decodeKeyPackage(bobKp.encoded)]);
    state = addBob.state;
    const first = await encryptApplication(state, impl, text("epoch 1", "1"));
    state = first.state;
    const addCarol = await addMembers(state, impl, [decodeKeyPackage(carolKp.encoded)]);
    state = addCarol.state;
    const second = await encryptApplication(state, impl, text("epoch 2", "2"));
    const carolJoined = await joinFromWelcome(
      decodeMessage(addCarol.welcome!),
      () => carolKp,
      impl,
      policyForSuite(suite),
    );
    const env = (seq: number, payload: Uint8Array): Envelope => ({
      seq,
      payload,
      channelId: CHANNEL,
      enqueuedAtMs: seq,
    });
    return {
      store,
      inbound,
      errors,
      welcome: env(1, await invite(addBob.welcome!)),
      rawWelcome: addBob.welcome!,
      env,
      alice,
      bob,
      carol,
      impl,
      epoch1: env(2, first.message),
      commit: env(3, addCarol.commit),
      epoch2: env(4, second.message),
      carolState: carolJoined.state,
    };
  }

  it("buffers a future-epoch message until the commit that reaches its epoch arrives", async () => {
    const s = await scenario();
    // Another member's commit can reach the queue after a message of the epoch it starts (two
    // senders racing), so the message has the lower sequence number.
    const early = { ...s.epoch2, seq: 3 };
    const late = { ...s.commit, seq: 4 };
    await s.inbound.deliver([s.welcome, s.epoch1, early]);
    const groupId = (await s.store.listGroups())[0]!.id;
    expect((await s.store.listMessages(groupId)).map((m) => m.text)).toEqual(["epoch 1"]);
    expect(await s.store.listPending()).toHaveLength(1);

    await s.inbound.deliver([late]);
    expect((await s.store.listMessages(groupId)).map((m) => m.text)).toEqual(["epoch 1", "epoch 2"]);
    expect(await s.store.listPending()).toHaveLength(0);
    expect(await s.store.getCursor()).toBe(4);
  });

  it("drops duplicates by sequence number", async () => {
    const s = await scenario();
    await s.inbound.deliver([s.welcome, s.epoch1, s.epoch1, s.commit, s.epoch2]);
    await s.inbound.deliver([s.epoch1, s.epoch2]);
    const groupId = (await s.store.listGroups())[0]!.id;
    expect((await s.store.listMessages(groupId)).map((m) => m.text)).toEqual(["epoch 1", "epoch 2"]);
  });

  it("marks a message that cannot be decrypted instead of failing the conversation", async () => {
    const s = await scenario();
    const broken = s.epoch1.payload.slice();
    broken[broken.length - 5]! ^= 0xff;
    await s.inbound.deliver([s.welcome, { ...s.epoch1, payload: broken }, s.commit, s.epoch2]);
    const groupId = (await s.store.listGroups())[0]!.id;
    const messages = await s.store.listMessages(groupId);
    expect(messages.map((m) => m.status)).toEqual(["undecryptable", "received"]);
    expect(messages[1]!.text).toBe("epoch 2");
    expect(s.errors.length).toBeGreaterThan(0);
  });

  it("skips bytes that are not MLS at all and keeps going", async () => {
    const s = await scenario();
    const garbage: Envelope = {
      seq: 2,
      payload: new Uint8Array([1, 2, 3]),
      channelId: CHANNEL,
      enqueuedAtMs: 2,
    };
    await s.inbound.deliver([s.welcome, garbage, s.commit, s.epoch2]);
    const groupId = (await s.store.listGroups())[0]!.id;
    expect((await s.store.listMessages(groupId)).map((m) => m.text)).toEqual(["epoch 2"]);
    expect(await s.store.getCursor()).toBe(4);
  });

  describe("channels", () => {
    it("drops a group's commit and messages that come through another channel, and goes on", async () => {
      const s = await scenario();
      const elsewhere = (e: Envelope, seq: number): Envelope => ({ ...e, seq, channelId: OTHER_CHANNEL });
      // A member forking bob off: its own commit for the epoch, sent to bob alone by another way.
      await s.inbound.deliver([s.welcome, elsewhere(s.epoch1, 2), elsewhere(s.commit, 3)]);
      const groupId = (await s.store.listGroups())[0]!.id;
      expect((await s.store.getGroup(groupId))!.epoch).toBe(1);
      expect(await s.store.listMessages(groupId)).toEqual([]);
      expect(s.errors).toEqual([expect.any(WrongChannelError), expect.any(WrongChannelError)]);
      expect(await s.store.getCursor()).toBe(3);

      // The group's own channel still carries everything.
      await s.inbound.deliver([
        { ...s.epoch1, seq: 4 },
        { ...s.commit, seq: 5 },
        { ...s.epoch2, seq: 6 },
      ]);
      expect((await s.store.getGroup(groupId))!.epoch).toBe(2);
      expect((await s.store.listMessages(groupId)).map((m) => m.text)).toEqual(["epoch 1", "epoch 2"]);
      expect(s.errors).toHaveLength(2);
    });

    it("checks the channel of a message that waited for its group's Welcome", async () => {
      const s = await scenario();
      const early = { ...s.epoch1, seq: 1, channelId: OTHER_CHANNEL };
      await s.inbound.deliver([early, { ...s.welcome, seq: 2 }]);
      const groupId = (await s.store.listGroups())[0]!.id;
      expect(await s.store.listMessages(groupId)).toEqual([]);
      expect(await s.store.listPending()).toEqual([]);
      expect(s.errors).toEqual([expect.any(WrongChannelError)]);
    });
  });

  it("keeps the first message when another member reuses its id, and reports it", async () => {
    const s = await scenario();
    // carol picks the id of alice's "epoch 1" message, hoping to replace it in bob's history.
    const forged = await encryptApplication(s.carolState, s.impl, text("forged", "1"));
    await s.inbound.deliver([s.welcome, s.epoch1, s.commit, s.env(4, forged.message)]);
    const groupId = (await s.store.listGroups())[0]!.id;
    expect(await s.store.listMessages(groupId)).toEqual([
      expect.objectContaining({ sender: "alice", text: "epoch 1" }),
    ]);
    expect(s.errors).toEqual([expect.any(MessageIdTakenError)]);
    expect(String(s.errors[0])).toMatch(/carol .* alice/);
    // The forged message still used up its key, so carol's next message reads fine.
    const next = await encryptApplication(forged.state, s.impl, text("hello", "3"));
    await s.inbound.deliver([s.env(5, next.message)]);
    expect((await s.store.listMessages(groupId)).map((m) => m.text)).toEqual(["epoch 1", "hello"]);
  });

  describe("invitations", () => {
    const joined = async (s: Awaited<ReturnType<typeof scenario>>) => s.store.listGroups();

    it("joins through a signed invitation and remembers who invited us", async () => {
      const s = await scenario();
      await s.inbound.deliver([s.welcome]);
      const groups = await joined(s);
      expect(groups).toHaveLength(1);
      expect(groups[0]!.invitedBy).toBe("alice");
      expect(s.errors).toEqual([]);
    });

    it("drops a bare Welcome with an error: its inviter is unknown", async () => {
      const s = await scenario();
      await s.inbound.deliver([s.env(1, s.rawWelcome)]);
      expect(await joined(s)).toHaveLength(0);
      expect(String(s.errors[0])).toMatch(/without a signed invitation/);
      expect(await s.store.getCursor()).toBe(1);
    });

    it("drops a tampered invitation with an error and goes on with the queue", async () => {
      const s = await scenario();
      const tampered = s.welcome.payload.slice();
      tampered[tampered.length - 3]! ^= 0x10;
      await s.inbound.deliver([
        { ...s.welcome, payload: tampered },
        { ...s.welcome, seq: 2 },
      ]);
      expect(String(s.errors[0])).toMatch(/InvitationError/);
      expect(await joined(s)).toHaveLength(1);
      expect(await s.store.getCursor()).toBe(2);
    });

    it("drops an invitation signed by someone who is not a member of the group", async () => {
      const s = await scenario();
      const hybrid = hybridKeyPairFromIdentity(s.bob.signaturePrivateKey).publicKey;
      const common = {
        channelId: CHANNEL,
        welcome: s.rawWelcome,
        joinerIdentityKey: s.bob.signaturePublicKey,
        joinerHybridKey: hybrid,
      };
      const byCarol = await sealInvitation({
        ...common,
        inviterKey: s.carol.signaturePublicKey,
        sign: (m) => s.impl.signature.sign(s.carol.signaturePrivateKey, m),
        inviterUsername: "carol",
      });
      const misnamed = await sealInvitation({
        ...common,
        inviterKey: s.alice.signaturePublicKey,
        sign: (m) => s.impl.signature.sign(s.alice.signaturePrivateKey, m),
        inviterUsername: "carol",
      });
      await s.inbound.deliver([s.env(1, byCarol), s.env(2, misnamed)]);
      expect(await joined(s)).toHaveLength(0);
      expect(s.errors.map(String)).toEqual([
        expect.stringMatching(/not a member/),
        expect.stringMatching(/not a member/),
      ]);
    });

    it("drops a replayed invitation instead of rolling the group back", async () => {
      // A last-resort KeyPackage outlives its use, so the replayed Welcome still opens.
      const s = await scenario(true);
      await s.inbound.deliver([s.welcome, s.epoch1, { ...s.welcome, seq: 3 }]);
      const groupId = (await joined(s))[0]!.id;
      await s.inbound.deliver([s.env(4, s.commit.payload), { ...s.welcome, seq: 5 }]);
      expect((await s.store.getGroup(groupId))!.epoch).toBe(2);
      expect(s.errors).toEqual([expect.any(StaleWelcomeError), expect.any(StaleWelcomeError)]);
      // Nothing waits for an epoch we were rolled back from: later messages read at once.
      await s.inbound.deliver([s.env(6, s.epoch2.payload)]);
      expect((await s.store.listMessages(groupId)).map((m) => m.text)).toEqual(["epoch 1", "epoch 2"]);
      expect(await s.store.listPending()).toEqual([]);
    });

    it("drops an invitation delivered through another channel than it names", async () => {
      const s = await scenario();
      await s.inbound.deliver([{ ...s.welcome, channelId: new Uint8Array(16).fill(9) }]);
      expect(await joined(s)).toHaveLength(0);
      expect(String(s.errors[0])).toMatch(/another channel/);
    });
  });
});
