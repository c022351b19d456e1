import { describe, expect, it } from "vitest";
import {
  CLASSICAL_SUITE,
  DEFAULT_SUITE,
  addMembers,
  createGroup,
  createIdentity,
  decodeKeyPackage,
  decodeMessage,
  decodeState,
  encryptApplication,
  generateKeyPackage,
  joinFromWelcome,
  policyForSuite,
  removeMember,
  suiteImpl,
  wasRemoved,
} from "../mls/index.ts";
import type { Envelope } from "../protocol/index.ts";
import { encodeAppMessage } from "./appMessage.ts";
import { hybridKeyPairFromIdentity } from "../crypto/hybridEnvelope.ts";
import { HybridKeys } from "./hybridKeys.ts";
import { InboundProcessor } from "./inbound.ts";
import { sealInvitation } from "./invitations.ts";
import { MemoryClientStore } from "./memoryClientStore.ts";
import { ClientSession } from "./session.ts";

/** The channel the conversation travels in (every delivery has one). */
const CHANNEL = new Uint8Array(16).fill(7);

const text = (t: string, id: string) =>
  encodeAppMessage({ kind: "text", id: id.padStart(32, "0"), text: t, sentAtMs: 1 });

const env = (seq: number, payload: Uint8Array): Envelope => ({
  seq,
  payload,
  channelId: CHANNEL,
  enqueuedAtMs: seq,
});

describe.each([DEFAULT_SUITE, CLASSICAL_SUITE])("inbound processing of removals (%s)", (suite) => {
  /** bob's device; alice created the group with bob and carol (epoch 1). */
  async function scenario() {
    const impl = await suiteImpl(suite);
    const [alice, bob, carol] = await Promise.all(
      ["alice", "bob", "carol"].map((n) => createIdentity(n, impl)),
    );
    const bobKp = await generateKeyPackage(bob!, impl);
    const carolKp = await generateKeyPackage(carol!, impl);
    const store = new MemoryClientStore();
    await store.putKeyPackages([
      {
        ref: bobKp.ref,
        encoded: bobKp.encoded,
        initPrivateKey: bobKp.privatePackage.initPrivateKey,
        hpkePrivateKey: bobKp.privatePackage.hpkePrivateKey,
        lastResort: false,
        createdAtMs: 0,
      },
    ]);
    const session = new ClientSession(bob!, suite, impl, store, () => 1000);
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
        inviterKey: alice!.signaturePublicKey,
        sign: (m) => impl.signature.sign(alice!.signaturePrivateKey, m),
        inviterUsername: "alice",
        channelId: CHANNEL,
        welcome,
        joinerIdentityKey: bob!.signaturePublicKey,
        joinerHybridKey: hybridKeyPairFromIdentity(bob!.signaturePrivateKey).publicKey,
      });
    const added = await addMembers(await createGroup(alice!, impl), impl, [
      decodeKeyPackage(bobKp.encoded),
      decodeKeyPackage(carolKp.encoded),
    ]);
    await inbound.deliver([env(1, await invite(added.welcome!))]);
    const groupId = (await store.listGroups())[0]!.id;
    const carolState = (
      await joinFromWelcome(decodeMessage(added.welcome!), () => carolKp, impl, policyForSuite(suite))
    ).state;
    return { impl, store, inbound, errors, groupId, alice: added.state, carol: carolState };
  }

  it("drops a removed member's late message silently: not shown, not even as undecryptable", async () => {
    const s = await scenario();
    // carol, still in epoch 1, sends after alice already removed her; bob has the removal first.
    const fromCarol = await encryptApplication(s.carol, s.impl, text("carol sneaking in", "1"));
    const removal = await removeMember(s.alice, s.impl, "carol");
    await s.inbound.deliver([env(2, removal.commit), env(3, fromCarol.message)]);
    expect(await s.store.listMessages(s.groupId)).toEqual([]);
    expect(s.errors).toEqual([]);
    expect(await s.store.getCursor()).toBe(3);
  });

  it("once removed, bob drops what comes next for the group instead of waiting for it", async () => {
    const s = await scenario();
    const removal = await removeMember(s.alice, s.impl, "bob");
    const after = await encryptApplication(removal.state, s.impl, text("bob cannot read this", "2"));
    await s.inbound.deliver([env(2, removal.commit), env(3, after.message)]);
    const record = (await s.store.listGroups())[0]!;
    expect(wasRemoved(decodeState(record.state))).toBe(true);
    expect(await s.store.listMessages(s.groupId)).toEqual([]);
    expect(await s.store.listPending()).toEqual([]);
    expect(await s.store.getCursor()).toBe(3);
  });
});
