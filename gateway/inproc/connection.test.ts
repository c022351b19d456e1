/**
 * ConnectionManager against the in-process gateway: a dropped connection, an unreachable gateway, a
 * gateway restart and an expired session, with a controllable gateway clock.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConnectionManager, Messenger, type ConnectionStatus } from "@qpq/shared/client";
import { IN_PROCESS_BASE_URL, inProcessGateway, type InProcessGateway } from "../src/testing/index.ts";
import { FAST, adopt, groupOf, resumeActor, seedActor, texts, until, type Actor } from "./harness.ts";

/** Gateway time: the real clock plus an offset a test can move forward. */
const clock = { offsetMs: 0, now: () => Date.now() + clock.offsetMs };
/** The managed device's address, so a test can drop its connections and only those. */
const DEVICE = "10.0.0.7";
let gw: InProcessGateway;
let alice: Actor;
let bob: Actor;
let manager: ConnectionManager | undefined;

beforeAll(async () => {
  gw = await inProcessGateway({ clock });
  [alice, bob] = (await Promise.all(["alice", "bob"].map((n) => seedActor(gw, n)))) as Actor[] as [
    Actor,
    Actor,
  ];
});

afterEach(() => {
  manager?.stop();
  manager = undefined;
  gw.setReachable(true);
});

afterAll(async () => {
  for (const a of [alice, bob]) a?.messenger.close();
  await gw?.close();
});

const dropDevice = () => gw.disconnect((session) => session.remoteAddress === DEVICE);

/** Puts the actor's device under a ConnectionManager, resuming its session on a managed connection. */
async function managed(actor: Actor): Promise<{ manager: ConnectionManager; statuses: ConnectionStatus[] }> {
  const token = actor.messenger.login.sessionToken;
  actor.messenger.close();
  const m = new ConnectionManager({
    baseUrl: IN_PROCESS_BASE_URL,
    openTransport: () => gw.connect({ remoteAddress: DEVICE }),
    fetchImpl: gw.fetch,
    initialBackoffMs: 1,
    maxBackoffMs: 20,
    heartbeat: { intervalMs: 60_000 },
    random: () => 0.5,
  });
  const statuses: ConnectionStatus[] = [];
  m.onStatus((status) => statuses.push(status));
  const client = await m.connect();
  const messenger = await Messenger.resume(client, token, actor.store, FAST);
  adopt(actor, messenger, client);
  m.keep(messenger, client, token);
  manager = m;
  return { manager: m, statuses };
}

describe("ConnectionManager", () => {
  it("reconnects after the connection drops, resubscribes, and loses no message", async () => {
    const groupId = await groupOf([alice, bob], "drops");
    const { manager: m, statuses } = await managed(bob);
    await alice.messenger.send(groupId, "m0");
    await until([bob], "m0", () => texts(bob, groupId).length === 1);
    for (let round = 1; round <= 3; round++) {
      expect(dropDevice()).toBe(1);
      // Sent while bob is away: it waits in his queue and comes with the backlog after resubscribing.
      await alice.messenger.send(groupId, `m${round}`);
      await until([bob], `online again (round ${round})`, () => m.status === "online");
    }
    await until([bob], "all four", () => texts(bob, groupId).length === 4);
    await bob.messenger.send(groupId, "back");
    await until([alice], "alice reads bob", () => texts(alice, groupId).includes("back"));
    await bob.messenger.settled();
    expect(texts(bob, groupId)).toEqual(["m0", "m1", "m2", "m3"]);
    expect(statuses.filter((s) => s === "offline")).toHaveLength(3);
  });

  it("keeps retrying while the gateway is unreachable and catches up once it is back", async () => {
    const groupId = await groupOf([alice, bob], "unreachable");
    const { manager: m, statuses } = await managed(bob);
    gw.setReachable(false);
    dropDevice();
    await alice.messenger.send(groupId, "while down");
    await until([bob], "several failed attempts", () => statuses.filter((s) => s === "offline").length >= 3);
    expect(m.status).not.toBe("online");
    gw.setReachable(true);
    m.retryNow();
    await until([bob], "caught up", () => texts(bob, groupId).includes("while down"));
    expect(m.status).toBe("online");
  });

  it("survives a gateway crash: the session is in the store, pending logins and pushes are not", async () => {
    const groupId = await groupOf([alice, bob], "crash");
    const { manager: m } = await managed(bob);
    await gw.crash();
    // Alice's connection died with the gateway too; she comes back on a fresh one.
    alice.messenger.close();
    await resumeActor(gw, alice);
    await alice.messenger.send(groupId, "after the crash");
    await until(
      [bob],
      "bob reconnected and reads",
      () => m.status === "online" && texts(bob, groupId).includes("after the crash"),
    );
  });

  // Last: bob's session is gone afterwards.
  it("an expired session ends in 'expired', not in endless retries", async () => {
    const { manager: m, statuses } = await managed(bob);
    clock.offsetMs += gw.config.limits.sessionTtlMs + 1;
    try {
      dropDevice();
      await until([bob], "expired", () => m.status === "expired");
      expect(statuses.at(-1)).toBe("expired");
    } finally {
      clock.offsetMs = 0;
    }
  });
});
