/**
 * A session that expires while its connection stays open: requests are refused (requireSession) and
 * pushes stop too, so an expired (or stolen and expired) session does not keep reading its queue.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, type Push } from "@qpq/shared/protocol";
import {
  connectGateway,
  FAST,
  openChannel,
  privateMessage,
  startGatewayProcess,
  uniqueName,
  type GatewayProcess,
} from "./helpers.ts";

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

/** The request's error code, or "ok". */
const outcome = (request: Promise<unknown>) =>
  request.then(
    () => "ok",
    (error: unknown) => (error as { code?: number }).code,
  );

describe("session expiry", () => {
  it("stops pushes on a connection whose session has expired", async () => {
    const bob = await account();
    const pushes: Push[] = [];
    bob.client.onPush((push) => pushes.push(push));
    await bob.client.subscribe(0);
    const alice = await account();
    const { channelId, groupId } = await openChannel(alice.client, [bob.identityKey]);
    await alice.client.enqueueToChannel(channelId, privateMessage(groupId));
    await expect.poll(() => pushes.filter((p) => p.type === "envelope").length).toBe(1);

    // Alice logged in after bob: once her session has expired, his has too.
    await expect
      .poll(() => outcome(alice.client.fetch(0)), { timeout: TTL_MS * 3, interval: 100 })
      .toBe(ErrorCode.SessionInvalid);
    // A fresh session for the sender; bob's connection is still open, his session is not. The push of
    // this envelope finds it expired and sends sessionEnded instead (and stops pushing).
    const sender = await connectGateway(gw.baseUrl);
    await sender.login(alice.username, alice.password, FAST.keyStretching);
    await sender.enqueueToChannel(channelId, privateMessage(groupId));
    await expect.poll(() => pushes.some((p) => p.type === "sessionEnded")).toBe(true);
    expect(pushes.filter((p) => p.type === "envelope")).toHaveLength(1);
    for (const c of [alice.client, bob.client, sender]) c.close();
  });
});
