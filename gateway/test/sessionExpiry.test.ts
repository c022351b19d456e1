/**
 * A session that expires while its connection stays open: requests are refused (requireSession) and
 * pushes stop too, so an expired (or stolen and expired) session does not keep reading its queue.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Push } from "@qpq/shared/protocol";
import { connectGateway, FAST, startGatewayProcess, uniqueName, type GatewayProcess } from "./helpers.ts";

const TTL_MS = 4000;
let gw: GatewayProcess;

beforeAll(async () => {
  gw = await startGatewayProcess({ env: { QPQ_SESSION_TTL_MS: String(TTL_MS) } });
});

afterAll(async () => {
  await gw?.kill();
  gw?.cleanup();
});

async function account() {
  const username = uniqueName("exp");
  const password = "session expiry password";
  const identityKey = crypto.getRandomValues(new Uint8Array(32));
  const client = await connectGateway(gw.baseUrl);
  await client.register(username, password, identityKey, FAST.keyStretching);
  await client.login(username, password, FAST.keyStretching);
  return { client, identityKey, username, password };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("session expiry", () => {
  it("stops pushes on a connection whose session has expired", async () => {
    const bob = await account();
    const pushes: Push[] = [];
    bob.client.onPush((push) => pushes.push(push));
    await bob.client.subscribe(0);
    const alice = await account();
    await alice.client.enqueue(bob.identityKey, new Uint8Array([1]));
    await expect.poll(() => pushes.filter((p) => p.type === "envelope").length).toBe(1);

    await sleep(TTL_MS + 200);
    // A fresh session for the sender; bob's connection is still open, his session is not.
    const sender = await connectGateway(gw.baseUrl);
    await sender.login(alice.username, alice.password, FAST.keyStretching);
    await sender.enqueue(bob.identityKey, new Uint8Array([2]));
    await sleep(1000);
    expect(pushes.filter((p) => p.type === "envelope")).toHaveLength(1);
    expect(pushes.some((p) => p.type === "sessionEnded")).toBe(true);
    for (const c of [alice.client, bob.client, sender]) c.close();
  });
});
