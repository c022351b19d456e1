/** Messenger end to end on the in-process gateway: accounts, DMs, groups, offline catch-up. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GatewayClient, MemoryClientStore, Messenger } from "@qpq/shared/client";
import { ErrorCode } from "@qpq/shared/protocol";
import { inProcessGateway, type InProcessGateway } from "../src/testing/index.ts";
import {
  FAST,
  groupOf,
  memberNames,
  registerActor,
  resumeActor,
  seedActor,
  texts,
  until,
  type Actor,
} from "./harness.ts";

let gw: InProcessGateway;
let alice: Actor;
let bob: Actor;
let carol: Actor;

beforeAll(async () => {
  gw = await inProcessGateway();
  // Two accounts through OPAQUE (what the account tests are about); carol only needs to exist.
  [alice, bob] = (await Promise.all(["alice", "bob"].map((n) => registerActor(gw, n)))) as Actor[] as [
    Actor,
    Actor,
  ];
  carol = await seedActor(gw, "carol");
});

afterAll(async () => {
  for (const a of [alice, bob, carol]) a?.messenger.close();
  await gw?.close();
});

describe("accounts", () => {
  it("logs in again with the password on the same device; a wrong password fails like an unknown user", async () => {
    const client = await GatewayClient.connect(gw.connect());
    const again = await Messenger.login(client, alice.name, alice.password, { store: alice.store, ...FAST });
    expect(again.username).toBe(alice.name);
    again.close();

    const other = await GatewayClient.connect(gw.connect());
    const wrong = other.login(alice.name, "not the password");
    await expect(wrong).rejects.toMatchObject({ code: ErrorCode.AuthFailed });
    await expect(other.login("nobody-here", "whatever")).rejects.toMatchObject({
      code: ErrorCode.AuthFailed,
    });
    other.close();
  });

  it("refuses a device store that holds another account's keys", async () => {
    const client = await GatewayClient.connect(gw.connect());
    await expect(
      Messenger.login(client, bob.name, bob.password, { store: alice.store, ...FAST }),
    ).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
    client.close();
  });

  it("a username is taken once", async () => {
    const client = await GatewayClient.connect(gw.connect());
    const store = new MemoryClientStore();
    await expect(Messenger.register(client, alice.name, "x", { store, ...FAST })).rejects.toMatchObject({
      code: ErrorCode.UsernameTaken,
    });
    client.close();
  });
});

describe("conversations", () => {
  it("a DM is a two-member group: both ends send and receive", async () => {
    const dm = await groupOf([alice, bob], "dm");
    expect(await memberNames(bob, dm)).toEqual([alice.name, bob.name].sort());
    const sent = await alice.messenger.send(dm, "hi bob");
    expect(sent.status).toBe("sent");
    await bob.messenger.send(dm, "hi alice");
    await until(
      [alice, bob],
      "both messages",
      () => texts(bob, dm).length === 1 && texts(alice, dm).length === 1,
    );
    expect(texts(bob, dm)).toEqual(["hi bob"]);
    expect(texts(alice, dm)).toEqual(["hi alice"]);
  });

  it("a group of three: every member reads every other member, senders in order", async () => {
    const group = await groupOf([alice, bob, carol], "trio");
    // The name travels in a groupInfo message after the Welcome.
    await until([bob], "bob learns the name", async () =>
      (await bob.messenger.conversations()).some((g) => g.id === group && g.name === "trio"),
    );
    for (let i = 0; i < 3; i++) {
      await alice.messenger.send(group, `a${i}`);
      await carol.messenger.send(group, `c${i}`);
    }
    await until([bob], "bob reads six", () => texts(bob, group).length === 6);
    expect(texts(bob, group).filter((t) => t.startsWith("a"))).toEqual(["a0", "a1", "a2"]);
    expect(texts(bob, group).filter((t) => t.startsWith("c"))).toEqual(["c0", "c1", "c2"]);
    await until(
      [alice, carol],
      "the others read theirs",
      () => texts(alice, group).length === 3 && texts(carol, group).length === 3,
    );
  });

  it("an offline member gets everything once, in order, when it comes back", async () => {
    const group = await groupOf([alice, bob], "offline");
    bob.messenger.close();
    for (let i = 0; i < 5; i++) await alice.messenger.send(group, `m${i}`);
    await resumeActor(gw, bob);
    await until([bob], "bob catches up", () => texts(bob, group).length === 5);
    await bob.messenger.settled();
    expect(texts(bob, group)).toEqual(["m0", "m1", "m2", "m3", "m4"]);
    expect((await bob.messenger.messages(group)).length).toBe(5);
  });

  it("a message sent while disconnected is queued in the outbox and goes out on reconnect", async () => {
    const group = await groupOf([alice, carol], "outbox");
    alice.messenger.detach();
    const queued = await alice.messenger.send(group, "later");
    expect(queued.status).toBe("queued");
    await resumeActor(gw, alice);
    await until([carol], "carol gets the retried message", () => texts(carol, group).includes("later"));
    const mine = (await alice.messenger.messages(group)).filter((m) => m.sender === alice.name);
    expect(mine.map((m) => m.status)).toEqual(["sent"]);
  });
});
