/**
 * Delivery through the real handlers: one upload fanned out to every other member, queue limits
 * (messages skip a full queue, commits may overshoot it), acknowledgement, and pushes of a session
 * that expired while its connection stayed open.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { inProcessGateway, type InProcessGateway } from "../src/testing/index.ts";
import { epochOf, groupOf, resumeActor, seedActor, texts, until, type Actor } from "./harness.ts";

const QUEUE_LIMIT = 4;
const clock = { offsetMs: 0, now: () => Date.now() + clock.offsetMs };
let gw: InProcessGateway;
let alice: Actor;
let bob: Actor;
let carol: Actor;

beforeAll(async () => {
  gw = await inProcessGateway({ clock, limits: { maxQueuedPerRecipient: QUEUE_LIMIT } });
  alice = await seedActor(gw, "alice");
  bob = await seedActor(gw, "bob");
  carol = await seedActor(gw, "carol");
});

afterAll(async () => {
  for (const a of [alice, bob, carol]) a?.messenger.close();
  await gw?.close();
});

const depth = (actor: Actor) => gw.store.queueDepth(actor.messenger.identity.signaturePublicKey);

/** Waits until the actor acknowledged everything queued for it. */
async function drained(actor: Actor): Promise<void> {
  await actor.messenger.settled();
  await until([actor], `${actor.name}'s queue drains`, async () => (await depth(actor)) === 0);
}

describe("delivery", () => {
  it("fans one upload out to every other member's queue, none to the sender", async () => {
    const groupId = await groupOf([alice, bob, carol], "fanout");
    await Promise.all([alice, bob, carol].map(drained));
    bob.messenger.close();
    carol.messenger.close();
    await alice.messenger.send(groupId, "one upload");
    expect([await depth(alice), await depth(bob), await depth(carol)]).toEqual([0, 1, 1]);
    await resumeActor(gw, bob);
    await resumeActor(gw, carol);
    await until(
      [bob, carol],
      "both read it",
      () => texts(bob, groupId).length === 1 && texts(carol, groupId).length === 1,
    );
    // Acknowledged after processing: the gateway deletes the envelopes.
    await Promise.all([bob, carol].map(drained));
  });

  it("a full queue skips that member while the others get every message; commits overshoot it", async () => {
    const groupId = await groupOf([alice, bob, carol], "full");
    await Promise.all([alice, bob, carol].map(drained));
    bob.messenger.close();
    const count = QUEUE_LIMIT + 2;
    for (let i = 0; i < count; i++) {
      await alice.messenger.send(groupId, `m${i}`);
      // Unacknowledged envelopes count against the limit too: carol keeps up, bob's queue fills.
      await until([carol], `carol reads m${i}`, () => texts(carol, groupId).length === i + 1);
      await drained(carol);
    }
    expect(await depth(bob)).toBe(QUEUE_LIMIT);
    // A commit must not be blocked by one member's full queue, or that member could stall the group.
    const epoch = await epochOf(alice, groupId);
    await alice.messenger.lifecycle.rotateKeys(groupId);
    expect(await depth(bob)).toBe(QUEUE_LIMIT + 1);

    await resumeActor(gw, bob);
    await until([bob], "bob's epoch", async () => (await epochOf(bob, groupId)) === epoch + 1);
    expect(texts(bob, groupId)).toEqual(["m0", "m1", "m2", "m3"]);
    await drained(bob);
    await alice.messenger.send(groupId, "room again");
    await until([bob], "bob reads", () => texts(bob, groupId).includes("room again"));
  });

  it("stops pushing to a connection whose session expired and tells the client why", async () => {
    const shortLived = await seedActor(gw, "dora", {}, 60_000);
    const groupId = await groupOf([alice, shortLived], "expiry");
    await drained(shortLived);
    clock.offsetMs += 120_000;
    try {
      await alice.messenger.send(groupId, "after expiry");
      await until([shortLived], "the session-ended notice", () =>
        shortLived.errors.some((e) => e instanceof QpqError && e.code === ErrorCode.SessionInvalid),
      );
      await shortLived.messenger.settled();
      expect(texts(shortLived, groupId)).toEqual([]);
      expect(await depth(shortLived)).toBe(1);
    } finally {
      clock.offsetMs = 0;
      shortLived.messenger.close();
    }
  });
});
