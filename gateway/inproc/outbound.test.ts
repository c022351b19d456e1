/** Outbound: identity-bound uploads, sealed sending over an anonymous connection, jitter keeping order. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GatewayClient } from "@qpq/shared/client";
import { inProcessGateway, type InProcessGateway } from "../src/testing/index.ts";
import { groupOf, seedActor, texts, until, type Actor } from "./harness.ts";

let gw: InProcessGateway;
let bob: Actor;

beforeAll(async () => {
  gw = await inProcessGateway();
  bob = await seedActor(gw, "bob");
});

afterAll(async () => {
  bob?.messenger.close();
  await gw?.close();
});

/** Anonymous connections from their own address, counted. */
function sealedFrom(remoteAddress: string) {
  const opened = { count: 0 };
  const sealedConnection = () => {
    opened.count++;
    return GatewayClient.connect(gw.connect({ remoteAddress }));
  };
  return { opened, sealedConnection };
}

describe("Outbound", () => {
  it("sealed sending delivers through an anonymous connection; the sender drops its own echo", async () => {
    const { opened, sealedConnection } = sealedFrom("10.9.9.1");
    const alice = await seedActor(gw, "alice", { sealedConnection });
    const groupId = await groupOf([alice, bob], "sealed");
    for (const text of ["one", "two", "three"]) {
      expect((await alice.messenger.send(groupId, text)).status).toBe("sent");
    }
    // One anonymous connection (opened for the group's name message), reused for every message.
    expect(opened.count).toBe(1);
    await until([bob], "bob reads all", () => texts(bob, groupId).length === 3);
    expect(bob.received.filter((m) => m.groupId === groupId).map((m) => m.sender)).toEqual([
      alice.name,
      alice.name,
      alice.name,
    ]);
    await alice.messenger.sync();
    await alice.messenger.settled();
    expect((await alice.messenger.messages(groupId)).map((m) => [m.text, m.status])).toEqual([
      ["one", "sent"],
      ["two", "sent"],
      ["three", "sent"],
    ]);
    alice.messenger.close();
  });

  it("a dropped anonymous connection is replaced at the next send", async () => {
    const { opened, sealedConnection } = sealedFrom("10.9.9.2");
    const alice = await seedActor(gw, "alice", { sealedConnection });
    const groupId = await groupOf([alice, bob], "sealed-drop");
    await alice.messenger.send(groupId, "first");
    expect(gw.disconnect((s) => s.remoteAddress === "10.9.9.2")).toBe(1);
    const before = opened.count;
    await until([alice], "the drop is noticed", async () => {
      const sent = await alice.messenger.send(groupId, "second");
      return sent.status === "sent";
    });
    expect(opened.count).toBe(before + 1);
    await until([bob], "bob reads both", () => texts(bob, groupId).includes("second"));
    alice.messenger.close();
  });

  it("with jitter, uploads keep their order and every one decrypts", async () => {
    const delays = [0.9, 0.1, 0.5, 0.0];
    const alice = await seedActor(gw, "alice", { sendJitterMs: 20, random: () => delays.shift() ?? 0 });
    const groupId = await groupOf([alice, bob], "jitter");
    const sent = await Promise.all(["a", "b", "c", "d"].map((t) => alice.messenger.send(groupId, t)));
    expect(sent.map((m) => m.status)).toEqual(["sent", "sent", "sent", "sent"]);
    await until([bob], "all four", () => texts(bob, groupId).length === 4);
    expect(texts(bob, groupId)).toEqual(["a", "b", "c", "d"]);
    alice.messenger.close();
  });
});
