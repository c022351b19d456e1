/** Rate limits on the gateway's injected clock: a test moves time instead of waiting for it. */
import { describe, expect, it } from "vitest";
import { GatewayClient } from "@qpq/shared/client";
import { createIdentity, suiteImpl } from "@qpq/shared/mls";
import { ErrorCode } from "@qpq/shared/protocol";
import { inProcessGateway } from "../src/testing/index.ts";

describe("throttling on an injected clock", () => {
  it("limits directory lookups per session and gives them back as time passes", async () => {
    let now = 1_700_000_000_000;
    const gw = await inProcessGateway({
      clock: () => now,
      limits: { resolvePerSession: { burst: 3, perMinute: 1 } },
    });
    const identity = await createIdentity("looker", await suiteImpl());
    const token = await gw.seedAccount("looker", identity.signaturePublicKey);
    const client = await GatewayClient.connect(gw.connect());
    await client.resumeSession(token);
    for (let i = 0; i < 3; i++)
      expect(await client.resolveUser("looker")).toEqual(identity.signaturePublicKey);
    const refused = client.resolveUser("looker");
    await expect(refused).rejects.toMatchObject({ code: ErrorCode.RateLimited });
    const retryAfterMs = await refused.then(
      () => 0,
      (e: { retryAfterMs: number }) => e.retryAfterMs,
    );
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(60_000);
    now += retryAfterMs;
    expect(await client.resolveUser("looker")).toEqual(identity.signaturePublicKey);
    await expect(client.resolveUser("looker")).rejects.toMatchObject({ code: ErrorCode.RateLimited });
    client.close();
    await gw.close();
  });
});
