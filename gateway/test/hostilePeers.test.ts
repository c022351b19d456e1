import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeServerFrame, encodeClientFrame, encodeFrames, type ClientFrame } from "@qpq/shared/protocol";
import {
  connectGateway,
  openChannel,
  privateMessage,
  startGatewayProcess,
  uniqueName,
  type GatewayClient,
  type GatewayProcess,
} from "./helpers.ts";
import { openRawStream } from "./rawStream.ts";

const MiB = 1024 * 1024;
const CONN_BUDGET = 4 * MiB;

let gateway: GatewayProcess;

beforeAll(async () => {
  gateway = await startGatewayProcess({
    env: { QPQ_CONN_BUFFER_BYTES: String(CONN_BUDGET), QPQ_RATE_LIMIT: "off" },
  });
});

afterAll(async () => {
  await gateway?.kill();
  gateway?.cleanup();
});

/** The gateway process's resident set, from /proc (Linux). */
function gatewayRss(): number {
  const status = readFileSync(`/proc/${gateway.child.pid}/status`, "utf8");
  const kib = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!kib) throw new Error("no VmRSS in /proc status");
  return Number(kib[1]) * 1024;
}

async function account(): Promise<{ client: GatewayClient; identityKey: Uint8Array; token: Uint8Array }> {
  const client = await connectGateway(gateway.baseUrl);
  const name = uniqueName("peer");
  const identityKey = crypto.getRandomValues(new Uint8Array(32));
  await client.register(name, `pw-${name}`, identityKey);
  const { sessionToken } = await client.login(name, `pw-${name}`);
  return { client, identityKey, token: sessionToken };
}

function frames(requests: ClientFrame["request"][], firstId: number): Uint8Array {
  return encodeFrames(requests.map((request, i) => encodeClientFrame({ requestId: firstId + i, request })));
}

const empty = new Uint8Array(0);

describe.skipIf(!existsSync("/proc/self/status"))("a client that never reads (real gateway process)", () => {
  it("does not grow the gateway's memory with its unread answers, while others keep being served", async () => {
    const sender = await account();
    const victim = await account();
    const { channelId, groupId } = await openChannel(sender.client, [victim.identityKey]);
    // Four envelopes of 250 KB: every fetch of the victim's queue is answered with about 1 MB.
    for (let i = 0; i < 4; i++) {
      const payload = new Uint8Array(250_000);
      payload.set(privateMessage(groupId, 0n, 32));
      await sender.client.enqueueToChannel(channelId, payload);
    }

    // The hostile client: hello and resume on one stream (read), then requests it never reads.
    const raw = await openRawStream(gateway.baseUrl);
    const hello = { minVersion: 2, maxVersion: 2, client: "hostile" };
    await raw.write(frames([{ type: "hello", hello }], 1));
    await raw.nextFrame();
    await raw.write(frames([{ type: "resumeSession", resumeSession: { sessionToken: victim.token } }], 2));
    const resumed = decodeServerFrame((await raw.nextFrame())!);
    expect(resumed.type === "response" && resumed.response.result.type).toBe("resumeSession");

    const before = gatewayRss();
    const fetchStream = await raw.wt.createBidirectionalStream();
    const fetchAll = { type: "fetch" as const, fetch: { afterSeq: 0, limit: 0, channelId: empty } };
    // 300 answers of 1 MB each, none of them read: 300 MB held in the gateway before the fix.
    void fetchStream.writable.getWriter().write(frames(Array(300).fill(fetchAll), 100));
    const pushStream = await raw.wt.createBidirectionalStream();
    const subscribe = { type: "subscribe" as const, subscribe: { afterSeq: 0, channelId: empty } };
    void pushStream.writable.getWriter().write(frames(Array(20).fill(subscribe), 1000));

    // Meanwhile the sender keeps being served, round trip after round trip.
    for (let i = 0; i < 30; i++) {
      await sender.client.enqueueToChannel(channelId, privateMessage(groupId, 0n, 10_000));
      expect(await sender.client.ack(0)).toBe(0);
    }
    const grown = gatewayRss() - before;
    // The connection's budget, the transport's stream buffers and ordinary churn; never the 300 MB.
    expect(grown).toBeLessThan(100 * MiB);
    raw.close();
    sender.client.close();
    victim.client.close();
  });
});
