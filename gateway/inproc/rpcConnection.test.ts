/**
 * The gateway's per-session handler (rpc/connection.ts) spoken to raw over an in-memory session:
 * hello first, typed errors for malformed frames, the in-flight limit, pushes of an expired session.
 * Frames are built with the codec; nothing here needs QUIC.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ErrorCode,
  FrameDecoder,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  decodeServerFrame,
  encodeClientFrame,
  encodeFrame,
  type Request,
  type Response,
} from "@qpq/shared/protocol";
import { createIdentity, suiteImpl } from "@qpq/shared/mls";
import { MemoryStore } from "../src/store/memoryStore.ts";
import type { Store } from "../src/store/types.ts";
import { inProcessGateway, type InProcessGateway } from "../src/testing/index.ts";

/** A store whose fetch waits while the gate is closed, to hold requests in flight. */
function gatedStore(): { store: Store; started: () => number; close(): void; open(): void } {
  const inner = new MemoryStore();
  let gate: Promise<void> | undefined;
  let release = () => {};
  let started = 0;
  const fetch: Store["fetch"] = async (...args) => {
    started++;
    await gate;
    return inner.fetch(...args);
  };
  const store = new Proxy(inner, {
    get(target, prop) {
      if (prop === "fetch") return fetch;
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    store,
    started: () => started,
    close() {
      gate = new Promise((resolve) => (release = resolve));
    },
    open() {
      release();
      gate = undefined;
    },
  };
}

const MAX_IN_FLIGHT = 3;
const gated = gatedStore();
let gw: InProcessGateway;
let token: Uint8Array;

beforeAll(async () => {
  gw = await inProcessGateway({ store: gated.store, limits: { maxInFlightPerConnection: MAX_IN_FLIGHT } });
  const identity = await createIdentity("raw", await suiteImpl());
  token = await gw.seedAccount("raw", identity.signaturePublicKey);
});

afterAll(async () => {
  await gw?.close();
});

/** One raw request stream on a fresh session. */
async function rawStream() {
  const wt = gw.connect();
  const stream = await wt.createBidirectionalStream();
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const decoder = new FrameDecoder();
  const queued: Response[] = [];
  let nextId = 1;
  return {
    wt,
    write: (bytes: Uint8Array) => writer.write(bytes),
    end: () => writer.close(),
    /** Frames the request (with the next request id) and writes it. */
    send(request: Request): Promise<void> {
      return writer.write(encodeFrame(encodeClientFrame({ requestId: nextId++, request })));
    },
    /** The next response, or undefined once the gateway ended the stream. */
    async next(): Promise<Response | undefined> {
      while (queued.length === 0) {
        const { value, done } = await reader.read();
        if (done) return undefined;
        for (const frame of decoder.push(value)) {
          const decoded = decodeServerFrame(frame);
          if (decoded.type === "response") queued.push(decoded.response);
        }
      }
      return queued.shift();
    },
  };
}

const hello: Request = {
  type: "hello",
  hello: { minVersion: MIN_PROTOCOL_VERSION, maxVersion: PROTOCOL_VERSION, client: "raw" },
};

function errorCode(response: Response | undefined): number | undefined {
  return response?.result.type === "error" ? response.result.error.code : undefined;
}

describe("rpc/connection", { timeout: 5000 }, () => {
  it("refuses requests before hello with E005, and before login with E006; health needs no hello", async () => {
    const s = await rawStream();
    await s.send({ type: "fetch", fetch: { afterSeq: 0, limit: 0, channelId: new Uint8Array(0) } });
    expect(errorCode(await s.next())).toBe(ErrorCode.HelloRequired);
    await s.send({ type: "health" });
    expect((await s.next())?.result.type).toBe("health");
    await s.send(hello);
    expect((await s.next())?.result.type).toBe("hello");
    await s.send({ type: "ack", ack: { upToSeq: 1 } });
    expect(errorCode(await s.next())).toBe(ErrorCode.Unauthenticated);
    s.wt.close();
  });

  it("answers a garbage frame body with E001 and keeps the stream working", async () => {
    const s = await rawStream();
    await s.write(encodeFrame(new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9])));
    expect(errorCode(await s.next())).toBe(ErrorCode.MalformedFrame);
    await s.send(hello);
    expect((await s.next())?.result.type).toBe("hello");
    s.wt.close();
  });

  it("answers an oversized length prefix with E002 and ends the stream, buffering nothing", async () => {
    const s = await rawStream();
    await s.write(new Uint8Array([0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4]));
    expect(errorCode(await s.next())).toBe(ErrorCode.FrameTooLarge);
    expect(await s.next()).toBeUndefined();
    s.wt.close();
  });

  it("answers a 16-byte frame declaring 2^28 segments with a typed error", async () => {
    const s = await rawStream();
    const bomb = new Uint8Array(16);
    new DataView(bomb.buffer).setUint32(0, 2 ** 28 - 1, true);
    await s.write(encodeFrame(bomb));
    expect([ErrorCode.FrameTooLarge, ErrorCode.MalformedFrame]).toContain(errorCode(await s.next()));
    s.wt.close();
  });

  it("a stream ending mid-frame is closed quietly; other sessions are not disturbed", async () => {
    const s = await rawStream();
    const frame = encodeFrame(encodeClientFrame({ requestId: 1, request: hello }));
    await s.write(frame.subarray(0, frame.length - 5));
    await s.end();
    expect(await s.next()).toBeUndefined();
    const other = await rawStream();
    await other.send(hello);
    expect((await other.next())?.result.type).toBe("hello");
    s.wt.close();
    other.wt.close();
  });

  it("holds at most maxInFlightPerConnection requests at once and answers the rest in turn", async () => {
    const s = await rawStream();
    await s.send(hello);
    await s.send({ type: "resumeSession", resumeSession: { sessionToken: token } });
    expect((await s.next())?.result.type).toBe("hello");
    expect((await s.next())?.result.type).toBe("resumeSession");
    gated.close();
    const before = gated.started();
    const count = MAX_IN_FLIGHT + 4;
    // Not awaited: once the gateway stops reading, the stream's backpressure holds these writes.
    const writes = Array.from({ length: count }, () =>
      s.send({ type: "fetch", fetch: { afterSeq: 0, limit: 1, channelId: new Uint8Array(0) } }),
    );
    // Each gated request has reached the store once it is in flight; the rest wait unread.
    for (let spins = 0; gated.started() - before < MAX_IN_FLIGHT && spins < 1000; spins++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (let spins = 0; spins < 50; spins++) await new Promise((resolve) => setImmediate(resolve));
    expect(gated.started() - before).toBe(MAX_IN_FLIGHT);
    gated.open();
    for (let i = 0; i < count; i++) expect((await s.next())?.result.type).toBe("fetch");
    expect(gated.started() - before).toBe(count);
    await Promise.all(writes);
    s.wt.close();
  });
});
