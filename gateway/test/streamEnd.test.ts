/**
 * A client may finish (FIN) its side of a request stream right after its last request: every request
 * read before the FIN is still answered (docs/protocol.md), and one that finishes and never reads
 * cannot make the gateway hold its answers past the deadline. Real gateway process, raw streams.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FrameDecoder,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  decodeServerFrame,
  encodeClientFrame,
  encodeFrames,
  type ClientFrame,
} from "@qpq/shared/protocol";
import { connectGateway, openChannel, privateMessage, startGatewayProcess, uniqueName } from "./helpers.ts";
import type { GatewayProcess } from "./helpers.ts";
import { openRawStream } from "./rawStream.ts";

/** How long the gateway waits for a finished stream's answers to be taken (short for the test). */
const DEADLINE_MS = 1000;

let gateway: GatewayProcess;

beforeAll(async () => {
  gateway = await startGatewayProcess({
    env: {
      QPQ_FRAME_DEADLINE_MS: String(DEADLINE_MS),
      // Room for every request of the never-reading client to be read, so its FIN is read too.
      QPQ_CONN_BUFFER_BYTES: String(16 * 1024 * 1024),
      QPQ_HEALTH_DETAILS: "on",
      QPQ_RATE_LIMIT: "off",
    },
  });
});

afterAll(async () => {
  await gateway?.kill();
  gateway?.cleanup();
});

function frames(requests: ClientFrame["request"][], firstId: number): Uint8Array {
  return encodeFrames(requests.map((request, i) => encodeClientFrame({ requestId: firstId + i, request })));
}

const hello: ClientFrame["request"] = {
  type: "hello",
  hello: { minVersion: MIN_PROTOCOL_VERSION, maxVersion: PROTOCOL_VERSION, client: "half-close" },
};
const health: ClientFrame["request"] = { type: "health" };

/** Every response on a stream until the gateway finishes it: [request id, result type]. */
async function readToEnd(readable: ReadableStream<Uint8Array>): Promise<[number, string][]> {
  const reader = readable.getReader();
  const decoder = new FrameDecoder();
  const seen: [number, string][] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return seen;
    for (const bytes of decoder.push(value)) {
      const frame = decodeServerFrame(bytes);
      if (frame.type === "response") seen.push([frame.response.requestId, frame.response.result.type]);
    }
  }
}

/** Bytes peers have not read, from /healthz (QPQ_HEALTH_DETAILS=on). */
async function bufferedBytes(): Promise<number> {
  const health = (await (await fetch(`${gateway.baseUrl}/healthz`)).json()) as { bufferedBytes: number };
  return health.bufferedBytes;
}

/** Polls (bounded) until the condition holds: the gateway has no event for a test to await here. */
async function eventually(what: string, condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > until) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A logged-in account with a channel of its own, and its session token for a raw connection. */
async function account() {
  const owner = await connectGateway(gateway.baseUrl);
  const name = uniqueName("half-close");
  const identityKey = crypto.getRandomValues(new Uint8Array(32));
  await owner.register(name, `pw-${name}`, identityKey);
  const { sessionToken } = await owner.login(name, `pw-${name}`);
  const { channelId, groupId } = await openChannel(owner, [identityKey]);
  return { owner, identityKey, sessionToken, channelId, groupId };
}

const empty = new Uint8Array(0);

describe("a request stream the client finishes right after writing (real gateway process)", () => {
  it("is answered in full before the gateway closes it", async () => {
    const raw = await openRawStream(gateway.baseUrl);
    try {
      // Twenty streams, as in the fuzz report that found every one of them missing the health answer.
      for (let trial = 0; trial < 20; trial++) {
        const stream = await raw.wt.createBidirectionalStream();
        const writer = stream.writable.getWriter();
        const answers = readToEnd(stream.readable);
        // As the fuzzer did: the FIN right behind the last request, so both reach the gateway together.
        void writer.write(frames([hello, health], 1));
        await writer.close();
        expect(await answers).toEqual([
          [1, "hello"],
          [2, "health"],
        ]);
      }
    } finally {
      raw.close();
    }
  });

  it("answers requests that are still being stored when the FIN arrives", async () => {
    const { owner, sessionToken, channelId, groupId } = await account();
    const raw = await openRawStream(gateway.baseUrl);
    try {
      await raw.write(frames([hello, { type: "resumeSession", resumeSession: { sessionToken } }], 1));
      await raw.nextFrame();
      await raw.nextFrame();
      for (let trial = 0; trial < 5; trial++) {
        const stream = await raw.wt.createBidirectionalStream();
        const writer = stream.writable.getWriter();
        const answers = readToEnd(stream.readable);
        // An enqueue is answered once it is durable, a turn of the event loop after the FIN was read.
        const enqueue = {
          type: "enqueue" as const,
          enqueue: {
            channelId,
            payload: privateMessage(groupId, 0n, 32),
            recipientKey: empty,
            commit: undefined,
          },
        };
        void writer.write(frames([enqueue, enqueue, health], 10));
        await writer.close();
        expect((await answers).sort((a, b) => a[0] - b[0])).toEqual([
          [10, "enqueue"],
          [11, "enqueue"],
          [12, "health"],
        ]);
      }
    } finally {
      raw.close();
      owner.close();
    }
  });

  it("gives back what a finished stream's unread answers hold once the deadline passes", async () => {
    const { owner, identityKey, sessionToken } = await account();
    const sender = await account();
    const { channelId, groupId } = await openChannel(sender.owner, [identityKey]);
    // About 1 MB per fetch answer: more than the QUIC stream window takes while the client does not read.
    for (let i = 0; i < 4; i++) {
      const payload = new Uint8Array(250_000);
      payload.set(privateMessage(groupId, 0n, 32));
      await sender.owner.enqueueToChannel(channelId, payload);
    }
    sender.owner.close();
    const raw = await openRawStream(gateway.baseUrl);
    try {
      await raw.write(frames([hello, { type: "resumeSession", resumeSession: { sessionToken } }], 1));
      await raw.nextFrame();
      await raw.nextFrame();
      const unread = await raw.wt.createBidirectionalStream();
      const writer = unread.writable.getWriter();
      const fetchAll = { type: "fetch" as const, fetch: { afterSeq: 0, limit: 0, channelId: empty } };
      void writer.write(frames(Array(6).fill(fetchAll), 100));
      await writer.close();
      await eventually("the unread answers are held", async () => (await bufferedBytes()) > 0, 10_000);
      // Before the fix the gateway waited for this stream's close forever, holding its answers.
      await eventually(
        "the unread answers are given back",
        async () => (await bufferedBytes()) === 0,
        DEADLINE_MS + 10_000,
      );
      // The connection itself is still served.
      const probe = await raw.wt.createBidirectionalStream();
      const answers = readToEnd(probe.readable);
      const probeWriter = probe.writable.getWriter();
      void probeWriter.write(frames([health], 500));
      await probeWriter.close();
      expect(await answers).toEqual([[500, "health"]]);
    } finally {
      raw.close();
      owner.close();
    }
  });
});
