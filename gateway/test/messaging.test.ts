import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  registerActor,
  reconnectActor,
  startGatewayProcess,
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

describe("two users through the real gateway", () => {
  it("alice and bob form an MLS group and exchange end-to-end encrypted messages", async () => {
    const alice = await registerActor(gw, "alice");
    const bob = await registerActor(gw, "bob");

    const groupId = await alice.messenger.createConversation("lunch", [bob.name]);
    expect(await waitForConversation(bob)).toBe(groupId);

    await alice.messenger.send(groupId, "hello bob");
    const [atBob] = await waitForMessages(bob, groupId, 1);
    expect(atBob).toMatchObject({ text: "hello bob", sender: alice.name, status: "received" });

    await bob.messenger.send(groupId, "hi alice");
    const [atAlice] = await waitForMessages(alice, groupId, 1);
    expect(atAlice).toMatchObject({ text: "hi alice", sender: bob.name });

    const members = (await bob.messenger.members(groupId)).map((m) => m.username).sort();
    expect(members).toEqual([alice.name, bob.name].sort());
    expect((await bob.messenger.conversations())[0]?.name).toBe("lunch");

    alice.messenger.close();
    bob.messenger.close();
  });

  it("an offline recipient gets every message once, in order, when they come back", async () => {
    const alice = await registerActor(gw, "alice");
    let bob = await registerActor(gw, "bob");
    const groupId = await alice.messenger.createConversation("later", [bob.name]);
    await waitForConversation(bob);
    bob.messenger.close();

    for (const text of ["one", "two", "three"]) await alice.messenger.send(groupId, text);

    bob = await reconnectActor(gw, bob);
    const got = await waitForMessages(bob, groupId, 3);
    expect(got.map((m) => m.text)).toEqual(["one", "two", "three"]);
    // Settled and still exactly three: nothing was delivered twice.
    await bob.messenger.settled();
    expect((await bob.messenger.messages(groupId)).map((m) => m.text)).toEqual(["one", "two", "three"]);

    alice.messenger.close();
    bob.messenger.close();
  });
});
