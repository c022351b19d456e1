import { ed25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";
import { hybridKeyPair, sealHybrid } from "../crypto/hybridEnvelope.ts";
import { utf8 } from "../util/bytes.ts";
import {
  INVITATION_TYPE,
  InvitationError,
  isInvitationPayload,
  openInvitation,
  sealInvitation,
} from "./invitations.ts";

function account(seed: number) {
  const privateKey = new Uint8Array(32).fill(seed);
  return {
    privateKey,
    identityKey: ed25519.getPublicKey(privateKey),
    hybrid: hybridKeyPair(new Uint8Array(32).fill(seed + 100)),
  };
}

const alice = account(1);
const bob = account(2);
const mallory = account(3);
const welcome = utf8("an MLS Welcome, opaque here");
const channelId = new Uint8Array(16).fill(7);

const signer = (privateKey: Uint8Array) => (message: Uint8Array) =>
  Promise.resolve(ed25519.sign(message, privateKey));

function seal(overrides: Partial<Parameters<typeof sealInvitation>[0]> = {}) {
  return sealInvitation({
    inviterKey: alice.identityKey,
    sign: signer(alice.privateKey),
    inviterUsername: "alice",
    channelId,
    welcome,
    joinerIdentityKey: bob.identityKey,
    joinerHybridKey: bob.hybrid.publicKey,
    ...overrides,
  });
}

describe("invitations", async () => {
  it("round-trips the Welcome, channel and inviter to the joiner", async () => {
    const payload = await seal();
    expect(payload[0]).toBe(INVITATION_TYPE);
    expect(isInvitationPayload(payload)).toBe(true);
    const opened = openInvitation(bob.hybrid, bob.identityKey, payload);
    expect(opened.inviterUsername).toBe("alice");
    expect(opened.inviterKey).toEqual(alice.identityKey);
    expect(opened.channelId).toEqual(channelId);
    expect(opened.welcome).toEqual(welcome);
  });

  it("carries an empty channel id (a conversation from before channels)", async () => {
    const opened = openInvitation(bob.hybrid, bob.identityKey, await seal({ channelId: new Uint8Array(0) }));
    expect(opened.channelId.length).toBe(0);
  });

  it("tells a raw MLS message from an invitation by the first byte", async () => {
    const mls = new Uint8Array(2000);
    mls[1] = 1; // MLS 1.0: version 0x0001
    expect(isInvitationPayload(mls)).toBe(false);
    expect(isInvitationPayload((await seal()).subarray(0, 100))).toBe(false);
  });

  it("refuses a tampered invitation, whichever byte changed", async () => {
    const payload = await seal();
    for (const at of [1, 2, 600, 1121, 1122, payload.length - 1]) {
      const tampered = payload.slice();
      tampered[at]! ^= 0x01;
      expect(() => openInvitation(bob.hybrid, bob.identityKey, tampered)).toThrow(InvitationError);
    }
    expect(() => openInvitation(bob.hybrid, bob.identityKey, payload.subarray(0, 200))).toThrow(
      InvitationError,
    );
    expect(() => openInvitation(bob.hybrid, bob.identityKey, new Uint8Array(5000))).toThrow(InvitationError);
  });

  it("does not open for another recipient", async () => {
    const payload = await seal();
    expect(() => openInvitation(mallory.hybrid, mallory.identityKey, payload)).toThrow(InvitationError);
    // Even with the right hybrid key, an invitation signed for bob is not one for another identity.
    expect(() => openInvitation(bob.hybrid, mallory.identityKey, payload)).toThrow(/not signed/);
  });

  it("refuses an invitation signed by someone other than the inviter it names", async () => {
    const forged = await seal({ sign: signer(mallory.privateKey) });
    expect(() => openInvitation(bob.hybrid, bob.identityKey, forged)).toThrow(/not signed/);
  });

  it("refuses a signature made for another joiner, re-sealed to bob (a forwarded invitation)", async () => {
    // Alice's genuine signature over the same contents, but for mallory as joiner: mallory (or the
    // gateway) re-seals it to bob. The signature binds the joiner, so bob refuses it.
    const name = utf8("alice");
    const body = new Uint8Array([
      1,
      ...alice.identityKey,
      0,
      name.length,
      ...name,
      0,
      channelId.length,
      ...channelId,
      0,
      0,
      0,
      welcome.length,
      ...welcome,
    ]);
    const label = utf8("quicproquo/v1/invitation");
    const forMallory = new Uint8Array([
      ...label,
      0,
      ...mallory.identityKey,
      ...mallory.hybrid.publicKey,
      ...body,
    ]);
    const forBob = new Uint8Array([...label, 0, ...bob.identityKey, ...bob.hybrid.publicKey, ...body]);
    const wrap = (signature: Uint8Array) =>
      new Uint8Array([
        INVITATION_TYPE,
        ...sealHybrid(bob.hybrid.publicKey, new Uint8Array([...body, ...signature]), "invitation"),
      ]);
    // The hand-made encoding is right: signed for bob, it opens.
    expect(
      openInvitation(bob.hybrid, bob.identityKey, wrap(ed25519.sign(forBob, alice.privateKey))).welcome,
    ).toEqual(welcome);
    expect(() =>
      openInvitation(bob.hybrid, bob.identityKey, wrap(ed25519.sign(forMallory, alice.privateKey))),
    ).toThrow(/not signed/);
  });

  it("does not open an envelope sealed for another purpose", async () => {
    const other = new Uint8Array([
      INVITATION_TYPE,
      ...sealHybrid(bob.hybrid.publicKey, utf8("hello"), "first-contact"),
    ]);
    expect(() => openInvitation(bob.hybrid, bob.identityKey, other)).toThrow(/does not open/);
  });
});
