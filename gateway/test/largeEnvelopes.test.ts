/**
 * Envelopes near the payload limit against the real gateway process. A fetch page used to be cut by
 * rows only: two 600 KB envelopes made a response larger than the client's frame limit, the client
 * refused the frame and lost its RPC stream, and every later sync of that user failed the same way.
 * Pages are now cut by bytes, pushes never exceed the frame limit, and a payload that could never be
 * delivered is refused at enqueue.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, type Envelope, type Push } from "@qpq/shared/protocol";
import { toHex } from "@qpq/shared/bytes";
import { defaultLimits } from "../src/config.ts";
import {
  connectGateway,
  openChannel,
  privateMessage,
  startGatewayProcess,
  uniqueName,
  type GatewayClient,
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

async function user(base: string): Promise<{ client: GatewayClient; key: Uint8Array }> {
  const name = uniqueName(base);
  const password = `pw-${name}-correct horse`;
  const key = crypto.getRandomValues(new Uint8Array(32));
  const client = await connectGateway(gw.baseUrl);
  await client.register(name, password, key);
  await client.login(name, password);
  return { client, key };
}

const KB600 = 600 * 1024;

/** What Messenger.sync does: fetch after the cursor until the gateway says nothing more waits. */
async function syncAll(client: GatewayClient): Promise<Envelope[][]> {
  const pages: Envelope[][] = [];
  let cursor = 0;
  for (;;) {
    const { envelopes, more } = await client.fetch(cursor);
    pages.push(envelopes);
    if (envelopes.length > 0) cursor = envelopes.at(-1)!.seq;
    if (!more) return pages;
    // A page that says more but holds nothing would make every client loop forever.
    expect(envelopes.length).toBeGreaterThan(0);
  }
}

describe("large envelopes", () => {
  it("two 600 KB envelopes come in two fetch pages, and the stream survives", async () => {
    const [alice, bob] = await Promise.all([user("alice"), user("bob")]);
    const { channelId, groupId } = await openChannel(alice.client, [bob.key]);
    const small = privateMessage(groupId, 0n, 100);
    const big = [privateMessage(groupId, 0n, KB600), privateMessage(groupId, 0n, KB600)];
    for (const payload of [small, ...big, small]) await alice.client.enqueueToChannel(channelId, payload);

    const pages = await syncAll(bob.client);
    const all = pages.flat();
    expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(all.map((e) => toHex(e.payload))).toEqual([small, ...big, small].map(toHex));
    // No page holds both large envelopes: together they exceed the frame limit.
    for (const page of pages) {
      expect(page.filter((e) => e.payload.length >= KB600).length).toBeLessThanOrEqual(1);
    }
    // The same connection still answers: nothing broke its stream.
    expect((await syncAll(bob.client)).flat()).toHaveLength(4);
    // A channel-narrowed fetch is cut the same way.
    const narrowed = await bob.client.fetch(0, 0, channelId);
    expect(narrowed.more).toBe(true);
    expect(narrowed.envelopes.length).toBeLessThan(4);
    alice.client.close();
    bob.client.close();
  });

  it("pushes a backlog of large envelopes one frame at a time", async () => {
    const [alice, bob] = await Promise.all([user("alice"), user("bob")]);
    const { channelId, groupId } = await openChannel(alice.client, [bob.key]);
    const big = [0, 1, 2].map(() => privateMessage(groupId, 0n, KB600));
    for (const payload of big) await alice.client.enqueueToChannel(channelId, payload);

    const pushed: Envelope[] = [];
    const all = new Promise<void>((resolve) => {
      bob.client.onPush((push: Push) => {
        if (push.type === "envelope") pushed.push(push.envelope);
        if (pushed.length === big.length) resolve();
      });
    });
    await bob.client.subscribe(0);
    await all;
    expect(pushed.map((e) => toHex(e.payload))).toEqual(big.map(toHex));
    alice.client.close();
    bob.client.close();
  });

  it("refuses a payload above the limit with PayloadTooLarge and stores nothing", async () => {
    const [alice, bob] = await Promise.all([user("alice"), user("bob")]);
    const { channelId, groupId } = await openChannel(alice.client, [bob.key]);
    const over = privateMessage(groupId, 0n, defaultLimits.maxPayloadBytes);
    await expect(alice.client.enqueueToChannel(channelId, over)).rejects.toMatchObject({
      code: ErrorCode.PayloadTooLarge,
    });
    expect(await bob.client.fetch(0)).toEqual({ envelopes: [], more: false });
    alice.client.close();
    bob.client.close();
  });
});
