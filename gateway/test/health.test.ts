/**
 * /healthz is public: by default it says whether the gateway is up and how its certificate stands,
 * nothing about its users. Connection and subscriber counts tell anyone how busy the gateway is and
 * when people are online, so they appear only with QPQ_HEALTH_DETAILS=on.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startGatewayProcess, type GatewayProcess } from "./helpers.ts";

let gw: GatewayProcess | undefined;

afterEach(async () => {
  await gw?.kill();
  gw?.cleanup();
  gw = undefined;
});

async function health(): Promise<Record<string, unknown>> {
  return (await (await fetch(`${gw!.baseUrl}/healthz`)).json()) as Record<string, unknown>;
}

describe("/healthz", () => {
  it("is minimal by default: status, uptime and certificate state only", async () => {
    gw = await startGatewayProcess();
    const body = await health();
    expect(Object.keys(body).sort()).toEqual(["certificate", "status", "uptimeMs"]);
    expect(body.status).toBe("ok");
  });

  it("adds connection and subscriber counts when QPQ_HEALTH_DETAILS=on", async () => {
    gw = await startGatewayProcess({ env: { QPQ_HEALTH_DETAILS: "on" } });
    const body = await health();
    expect(body).toMatchObject({ status: "ok", connections: expect.any(Number), subscribers: 0 });
    // The transport's admission counts: what a flood of Initials was refused, and how.
    expect(body.quic).toMatchObject({
      unvalidated: expect.any(Number),
      retriesSent: 0,
      dropped: { badToken: 0 },
    });
  });
});
