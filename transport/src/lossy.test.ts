/**
 * The transport over a lossy path: a relay drops (and reorders) datagrams with a seeded PRNG, so loss
 * recovery, timers and flow-control wakeups are exercised on every run instead of only when a loaded
 * machine happens to overflow a socket buffer. Everything waits on conditions; the test timeouts are
 * only a safety net against a stall.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { generateSelfSigned, type SelfSignedCertificate } from "./tls/selfSigned.ts";
import type { TransportLimits } from "./config.ts";
import {
  connectWebTransport,
  startWebTransportServer,
  type WebTransportServer,
  type WebTransportServerSession,
} from "./index.ts";
import { startLossyRelay, type LossyRelay } from "./testing/lossyRelay.ts";
import { readAll, waitFor, writeAll } from "./testHelpers.ts";

const SAFETY_NET_MS = 120_000;

let cert: SelfSignedCertificate;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  cert = await generateSelfSigned({ hostnames: ["127.0.0.1"] });
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Bidi = { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> };

async function echo(s: WebTransportServerSession): Promise<void> {
  for await (const bidi of s.incomingBidirectionalStreams as unknown as AsyncIterable<Bidi>) {
    void bidi.readable.pipeTo(bidi.writable).catch(() => {});
  }
}

async function setup(opts: {
  loss: number;
  seed: number;
  reorder?: number;
  limits?: Partial<TransportLimits>;
  onSession: (s: WebTransportServerSession) => void;
}): Promise<{
  server: WebTransportServer;
  relay: LossyRelay;
  connect: () => ReturnType<typeof connectWebTransport>;
}> {
  const server = await startWebTransportServer({
    host: "127.0.0.1",
    port: 0,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    path: "/wt",
    limits: opts.limits,
    onSession: opts.onSession,
  });
  cleanups.push(() => server.close());
  const relay = await startLossyRelay({
    target: { host: "127.0.0.1", port: server.port },
    loss: opts.loss,
    reorder: opts.reorder ?? 0,
    seed: opts.seed,
  });
  cleanups.push(() => relay.close());
  const connect = () => {
    const wt = connectWebTransport(`https://127.0.0.1:${relay.port}/wt`, {
      serverCertificateHashes: [{ algorithm: "sha-256", value: cert.sha256 }],
      limits: opts.limits,
    });
    cleanups.push(() => {
      wt.close();
    });
    return wt;
  };
  return { server, relay, connect };
}

/** The handshake itself can lose every try at high loss: connect until one gets through. */
async function ready(connect: () => ReturnType<typeof connectWebTransport>) {
  const wt = connect();
  await wt.ready;
  return wt;
}

async function echoRoundTrip(wt: ReturnType<typeof connectWebTransport>, data: Uint8Array): Promise<void> {
  const bidi = await wt.createBidirectionalStream();
  const [, got] = await Promise.all([writeAll(bidi.writable, data), readAll(bidi.readable)]);
  expect(got.length).toBe(data.length);
  expect(Buffer.from(got).equals(data)).toBe(true);
}

describe("transport over a lossy path", () => {
  for (const [loss, seed] of [
    [0.05, 1],
    [0.2, 2],
  ] as const) {
    it(
      `echoes 1 MiB both ways at ${loss * 100}% loss (seed ${seed})`,
      async () => {
        const { relay, connect } = await setup({ loss, seed, onSession: (s) => void echo(s) });
        const wt = await ready(connect);
        await echoRoundTrip(wt, randomBytes(1024 * 1024));
        expect(relay.stats.dropped).toBeGreaterThan(0);
        wt.close();
        await wt.closed;
      },
      SAFETY_NET_MS,
    );

    it(
      `delivers many small messages, on one stream and on many, at ${loss * 100}% loss (seed ${seed})`,
      async () => {
        const { relay, connect } = await setup({ loss, seed: seed + 100, onSession: (s) => void echo(s) });
        const wt = await ready(connect);
        // One stream, many small writes each flushed in its own event-loop turn.
        const bidi = await wt.createBidirectionalStream();
        const w = bidi.writable.getWriter();
        const sent: Uint8Array[] = [];
        const reading = readAll(bidi.readable);
        for (let i = 0; i < 500; i++) {
          const msg = new TextEncoder().encode(`message ${i};`);
          sent.push(msg);
          await w.write(msg);
          await new Promise((r) => setImmediate(r));
        }
        await w.close();
        expect(Buffer.from(await reading).equals(Buffer.concat(sent))).toBe(true);
        // Many short streams at once.
        const results = await Promise.all(
          Array.from({ length: 100 }, async (_, i) => {
            const data = new TextEncoder().encode(`stream ${i} `.repeat(20));
            const s = await wt.createBidirectionalStream();
            const [, got] = await Promise.all([writeAll(s.writable, data), readAll(s.readable)]);
            return Buffer.from(got).equals(data);
          }),
        );
        expect(results.every(Boolean)).toBe(true);
        expect(relay.stats.dropped).toBeGreaterThan(0);
        wt.close();
        await wt.closed;
      },
      SAFETY_NET_MS,
    );
  }

  it(
    "recovers with loss and reordering together",
    async () => {
      const { relay, connect } = await setup({
        loss: 0.1,
        seed: 7,
        reorder: 0.05,
        onSession: (s) => void echo(s),
      });
      const wt = await ready(connect);
      await echoRoundTrip(wt, randomBytes(512 * 1024));
      expect(relay.stats.reordered).toBeGreaterThan(0);
      wt.close();
      await wt.closed;
    },
    SAFETY_NET_MS,
  );

  it(
    "sends 1 MiB from the server on a unidirectional stream at 20% loss",
    async () => {
      const data = randomBytes(1024 * 1024);
      const { connect } = await setup({
        loss: 0.2,
        seed: 11,
        onSession: async (s) => {
          const uni = await s.createUnidirectionalStream();
          await writeAll(uni, data);
        },
      });
      const wt = connect();
      const uni = (await wt.incomingUnidirectionalStreams.getReader().read()).value!;
      const got = await readAll(uni);
      expect(Buffer.from(got).equals(data)).toBe(true);
      wt.close();
      await wt.closed;
    },
    SAFETY_NET_MS,
  );

  for (const loss of [0, 0.2]) {
    it(
      `a paused reader blocks the writer through flow control, and resuming unblocks it (${loss * 100}% loss)`,
      async () => {
        // Small windows so that flow control, not the JS buffers, is what stops the writer.
        const limits = {
          streamWindow: 32 * 1024,
          connectionWindow: 64 * 1024,
          streamHighWaterMark: 8 * 1024,
        };
        let serverStream: ReadableStream<Uint8Array> | null = null;
        const { connect } = await setup({
          loss,
          seed: 21,
          limits,
          onSession: async (s) => {
            const reader = s.incomingUnidirectionalStreams.getReader();
            serverStream = (await reader.read()).value ?? null;
          },
        });
        const wt = await ready(connect);
        const total = 2 * 1024 * 1024;
        const data = randomBytes(total);
        const uni = await wt.createUnidirectionalStream();
        const w = uni.getWriter();
        const chunk = 4096;
        let accepted = 0;
        let pending = false;
        const writing = (async () => {
          for (let off = 0; off < total; off += chunk) {
            pending = true;
            await w.write(data.subarray(off, off + chunk));
            pending = false;
            accepted += chunk;
          }
          await w.close();
        })();
        // Without reads the most the client can get rid of is the server's windows (at most 4x, as
        // quiche grows them) plus the JS buffers on both sides: well under `total`. Wait until the
        // writer has filled the initial window and is waiting, i.e. flow control holds it.
        await waitFor(
          () => serverStream !== null && pending && accepted >= limits.streamWindow,
          SAFETY_NET_MS,
        );
        const bound = 4 * limits.streamWindow + 2 * limits.streamHighWaterMark + 2 * chunk;
        expect(accepted).toBeLessThanOrEqual(bound);
        // Resume as a slow reader: one chunk per event-loop turn.
        const reader = serverStream!.getReader();
        const parts: Uint8Array[] = [];
        for (;;) {
          const r = await reader.read();
          if (r.done) break;
          parts.push(r.value);
          await new Promise((res) => setImmediate(res));
        }
        await writing;
        expect(Buffer.concat(parts).equals(data)).toBe(true);
        wt.close();
        await wt.closed;
      },
      SAFETY_NET_MS,
    );
  }
});
