import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inProcessGateway, type InProcessGateway } from "../src/testing/index.ts";
import { groupOf, registerActor, texts, until, type Actor } from "./harness.ts";

let gw: InProcessGateway;
let alice: Actor;
let bob: Actor;

beforeAll(async () => {
  gw = await inProcessGateway();
  alice = await registerActor(gw, "alice");
  bob = await registerActor(gw, "bob");
});

afterAll(async () => {
  for (const a of [alice, bob]) a?.messenger.close();
  await gw?.close();
});

describe("Messenger on the in-process gateway", () => {
  it("a DM is a two-member group: both ends send and receive", async () => {
    const t0 = performance.now();
    const dm = await groupOf([alice, bob], "dm");
    await alice.messenger.send(dm, "hi bob");
    await bob.messenger.send(dm, "hi alice");
    await until(
      [alice, bob],
      "both messages",
      () => texts(bob, dm).length === 1 && texts(alice, dm).length === 1,
    );
    expect(texts(bob, dm)).toEqual(["hi bob"]);
    expect(texts(alice, dm)).toEqual(["hi alice"]);
    console.log("dm ms", performance.now() - t0);
  });
});
