/**
 * The bare transport's cost, as a yardstick for the gateway: Node clients send fixed-size messages on
 * one bidirectional stream each, an echo server returns them, and we time every round trip. Everything
 * runs in this process (server and clients share its event loop and CPU).
 */
import { generateSelfSigned } from "../src/tls/selfSigned.ts";
import { connectWebTransport } from "../src/client.ts";
import { startWebTransportServer } from "../src/server.ts";

export interface EchoBenchOptions {
  clients: number;
  seconds: number;
  payloadBytes: number;
  /** Messages each client keeps outstanding. */
  inFlight: number;
}

export interface EchoBenchResult {
  msgsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export async function runEchoBench(opts: EchoBenchOptions): Promise<EchoBenchResult> {
  const cert = await generateSelfSigned({ hostnames: ["127.0.0.1"] });
  const server = await startWebTransportServer({
    host: "127.0.0.1",
    port: 0,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    path: "/echo",
    limits: { maxConnections: opts.clients + 16 },
    onSession: async (s) => {
      const incoming = s.incomingBidirectionalStreams as unknown as AsyncIterable<{
        readable: ReadableStream<Uint8Array>;
        writable: WritableStream<Uint8Array>;
      }>;
      for await (const bidi of incoming) void bidi.readable.pipeTo(bidi.writable).catch(() => {});
    },
  });
  const samples: number[] = [];
  let completed = 0;
  const warmupMs = Math.min(1000, opts.seconds * 100);
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const stopAt = measureFrom + opts.seconds * 1000;
  const payload = new Uint8Array(opts.payloadBytes).fill(0x61);

  const runClient = async (): Promise<void> => {
    const wt = connectWebTransport(`https://127.0.0.1:${server.port}/echo`, {
      serverCertificateHashes: [{ algorithm: "sha-256", value: cert.sha256 }],
    });
    await wt.ready;
    const bidi = await wt.createBidirectionalStream();
    const writer = bidi.writable.getWriter();
    const reader = bidi.readable.getReader();
    const sentAt: number[] = [];
    const send = (): void => {
      sentAt.push(performance.now());
      writer.write(payload).catch(() => {});
    };
    for (let i = 0; i < opts.inFlight; i++) send();
    let pending = 0; // bytes of the message currently arriving
    while (sentAt.length > 0) {
      const { value, done } = await reader.read();
      if (done || !value) break;
      pending += value.length;
      while (pending >= opts.payloadBytes) {
        pending -= opts.payloadBytes;
        const now = performance.now();
        const t0 = sentAt.shift() as number;
        if (now >= measureFrom && now < stopAt) {
          samples.push(now - t0);
          completed++;
        }
        if (now < stopAt) send();
      }
    }
    await writer.close().catch(() => {});
    wt.close();
    await wt.closed;
  };

  try {
    await Promise.all(Array.from({ length: opts.clients }, runClient));
  } finally {
    await server.close();
  }
  const sorted = Float64Array.from(samples).sort();
  return {
    msgsPerSec: completed / opts.seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  };
}
