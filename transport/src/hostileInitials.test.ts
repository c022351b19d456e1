/**
 * Floods of real, decryptable Initials that never finish their handshake (hostile-peer finding 5):
 * before admission control, 200 of them from one UDP port filled a 200-slot table and locked every
 * real client out until the 30 s idle timeout.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type dgram from "node:dgram";
import { quiche } from "@matrixai/quic/native/index.js";
import { generateSelfSigned, type SelfSignedCertificate } from "./tls/selfSigned.ts";
import { connectWebTransport, startWebTransportServer, type WebTransportServer } from "./index.ts";
import type { TransportLimits } from "./config.ts";
import { craftInitial, initialFlood, type InitialFlood } from "./testing/initialFlood.ts";
import { waitFor } from "./testHelpers.ts";

let cert: SelfSignedCertificate;
let notices: string[] = [];
const cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  cert = await generateSelfSigned({ hostnames: ["127.0.0.1"] });
});

afterEach(async () => {
  notices = [];
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

afterAll(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function server(limits: Partial<TransportLimits>): Promise<WebTransportServer> {
  const s = await startWebTransportServer({
    host: "127.0.0.1",
    port: 0,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    path: "/wt",
    onSession: () => {},
    onNotice: (msg) => notices.push(msg),
    limits,
  });
  cleanup.push(() => s.close());
  return s;
}

async function flood(port: number, from: string): Promise<InitialFlood> {
  const f = await initialFlood(port, from);
  cleanup.push(() => f.close());
  return f;
}

/** Milliseconds until a real client's session is ready; throws if not within `withinMs`. */
async function connectTime(port: number, withinMs = 3000): Promise<number> {
  const start = performance.now();
  const wt = connectWebTransport(`https://127.0.0.1:${port}/wt`, {
    serverCertificateHashes: [{ algorithm: "sha-256", value: cert.sha256 }],
  });
  cleanup.push(async () => {
    wt.close();
    await wt.closed.catch(() => {});
  });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no session within ${withinMs} ms`)), withinMs);
  });
  try {
    await Promise.race([wt.ready, late]);
  } finally {
    clearTimeout(timer);
  }
  return performance.now() - start;
}

const droppedTotal = (s: WebTransportServer) => Object.values(s.stats.dropped).reduce((a, b) => a + b, 0);

describe("a flood of half-open connections", () => {
  it("from another address leaves room for a real client (table of 200, 200 Initials)", async () => {
    const s = await server({ maxConnections: 200 });
    const f = await flood(s.port, "127.0.0.2");
    await f.send(200);
    // The flood holds no more than its per-address share; the rest was answered with Retry.
    expect(await connectTime(s.port)).toBeLessThan(3000);
    expect(s.stats.unvalidated).toBeLessThanOrEqual(16);
    expect(f.retried.size).toBeGreaterThanOrEqual(200 - 16);
    // The operator hears of the flood once, not per packet.
    expect(notices).toEqual(["quic admission under pressure"]);
  });

  it("from the client's own address: the client gets in through a Retry", async () => {
    const s = await server({ maxConnections: 200 });
    const f = await flood(s.port, "127.0.0.1");
    await f.send(200);
    const retriesBefore = s.stats.retriesSent;
    expect(await connectTime(s.port)).toBeLessThan(3000);
    expect(s.stats.retriesSent).toBeGreaterThan(retriesBefore);
  });

  it("with Retry off, the per-address cap drops the flood and the client still connects", async () => {
    const s = await server({ maxConnections: 200, retry: "never" });
    const f = await flood(s.port, "127.0.0.2");
    await f.send(200, () => droppedTotal(s));
    expect(s.stats.dropped.unvalidatedPerAddress).toBe(200 - 16);
    expect(s.stats.retriesSent).toBe(0);
    expect(await connectTime(s.port)).toBeLessThan(3000);
  });

  it("from many addresses is capped by the unvalidated total, then Retry takes over", async () => {
    const s = await server({ maxUnvalidated: 40, maxUnvalidatedPerAddress: 16 });
    for (const host of ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]) {
      await (await flood(s.port, host)).send(16);
    }
    // Retry begins at half the cap (20), so no more than that many are held.
    expect(s.stats.unvalidated).toBe(20);
    expect(s.stats.retriesSent).toBe(64 - 20);
    expect(await connectTime(s.port)).toBeLessThan(3000);
  });

  it("is reaped at the handshake deadline, long before the idle timeout; established ones stay", async () => {
    // Long enough that the flood is in before the first is reaped, even on a loaded machine.
    const s = await server({ handshakeTimeoutMs: 1000, retry: "never" });
    await connectTime(s.port);
    const f = await flood(s.port, "127.0.0.2");
    await f.send(10, () => droppedTotal(s));
    expect(s.stats.unvalidated).toBe(10);
    await waitFor(() => s.stats.unvalidated === 0, 5000);
    expect(s.stats.handshakeTimeouts).toBe(10);
    expect(s.stats.connections).toBe(1);
    expect(s.connectionCount).toBe(1);
  });
});

describe("Retry", () => {
  it('"always": a real client connects through it and a flood leaves no state', async () => {
    const s = await server({ retry: "always" });
    expect(await connectTime(s.port)).toBeLessThan(3000);
    expect(s.stats.retriesSent).toBeGreaterThanOrEqual(1); // more if the client retransmitted first
    const f = await flood(s.port, "127.0.0.2");
    await f.send(100);
    expect(f.retried.size).toBe(100);
    expect(s.stats.connections).toBe(1);
  });

  it("refuses a token from another address or tampered with, accepts the genuine one", async () => {
    const s = await server({ retry: "always" });
    const client = await flood(s.port, "127.0.0.1");
    const other = await flood(s.port, "127.0.0.2");
    const serverHost = { host: "127.0.0.1", port: s.port };
    const { packet, conn, scid } = craftInitial(client.local, serverHost);
    client.socket.send(packet, s.port, "127.0.0.1");
    await waitFor(() => client.retried.has(scid.toString("hex")));
    const retry = client.retried.get(scid.toString("hex")) ?? Buffer.alloc(0);
    conn.recv(retry, { from: serverHost, to: client.local });
    const second = Buffer.alloc(1500);
    const sent = conn.send(second);
    expect(sent).not.toBeNull();
    const withToken = second.subarray(0, sent?.[0] ?? 0);
    const token = quiche.Header.fromSlice(withToken, 20).token ?? new Uint8Array(0);
    expect(token.length).toBeGreaterThan(0);

    const send = (socket: dgram.Socket, bytes: Buffer) => socket.send(bytes, s.port, "127.0.0.1");
    send(other.socket, withToken);
    await waitFor(() => s.stats.dropped.badToken === 1);
    const tampered = Buffer.from(withToken);
    const at = tampered.indexOf(Buffer.from(token)) + token.length - 1;
    tampered[at] = (tampered[at] ?? 0) ^ 1;
    send(client.socket, tampered);
    await waitFor(() => s.stats.dropped.badToken === 2);
    expect(s.stats.connections).toBe(0);

    send(client.socket, withToken);
    await waitFor(() => s.stats.connections === 1);
    expect(s.stats.unvalidated).toBe(0); // proven by the token
  });
});
