/**
 * Hostile-peer finding 5 on the real gateway with its default settings: a flood of half-open QUIC
 * connections (real Initials that never finish) must not keep a real client out.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initialFlood } from "@qpq/transport/testing";
import { connectGateway, startGatewayProcess, type GatewayProcess } from "./helpers.ts";

let gateway: GatewayProcess;

beforeAll(async () => {
  gateway = await startGatewayProcess({ env: { QPQ_HEALTH_DETAILS: "on" } });
});

afterAll(async () => {
  await gateway?.kill();
  gateway?.cleanup();
});

async function quicStats(): Promise<{ unvalidated: number; retriesSent: number }> {
  const body = (await (await fetch(`${gateway.baseUrl}/healthz`)).json()) as {
    quic: { unvalidated: number; retriesSent: number };
  };
  return body.quic;
}

/** A real client's connect and hello, timed; a lockout shows as the timeout. */
async function connectMs(): Promise<number> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const client = await Promise.race([
    connectGateway(gateway.baseUrl),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("no connection within 5 s")), 5000);
    }),
  ]).finally(() => clearTimeout(timer));
  client.close();
  return performance.now() - start;
}

describe("a flood of half-open QUIC connections (real gateway, default settings)", () => {
  it("leaves real clients connecting, from another address and from the flood's own", async () => {
    for (const from of ["127.0.0.2", "127.0.0.1"]) {
      const flood = await initialFlood(gateway.wtPort, from);
      try {
        await flood.send(1000);
        expect(flood.retried.size).toBeGreaterThanOrEqual(1000 - 16);
        expect(await connectMs()).toBeLessThan(5000);
      } finally {
        await flood.close();
      }
    }
    const quic = await quicStats();
    expect(quic.unvalidated).toBeLessThanOrEqual(32); // 16 per flooding address, until the deadline
    expect(quic.retriesSent).toBeGreaterThanOrEqual(2000 - 32);
    // The operator's log says so once, not once per packet.
    expect(gateway.logs().split("quic admission under pressure").length - 1).toBe(1);
  });
});
