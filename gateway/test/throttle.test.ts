import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "@qpq/shared/protocol";
import { connectGateway, FAST, startGatewayProcess, uniqueName, type GatewayProcess } from "./helpers.ts";

let gw: GatewayProcess;

beforeAll(async () => {
  gw = await startGatewayProcess({ env: { QPQ_LOGIN_PER_USER: "2/1", QPQ_REGISTER_PER_ADDRESS: "4/1" } });
});

afterAll(async () => {
  await gw?.kill();
  gw?.cleanup();
});

describe("throttling", () => {
  it("limits login attempts per username with RateLimited and a retry-after, for known and unknown names alike", async () => {
    const client = await connectGateway(gw.baseUrl);
    const known = uniqueName("known");
    await client.register(
      known,
      "right password",
      crypto.getRandomValues(new Uint8Array(32)),
      FAST.keyStretching,
    );
    for (const username of [known, uniqueName("ghost")]) {
      for (let i = 0; i < 2; i++) {
        await expect(client.login(username, "wrong", FAST.keyStretching)).rejects.toMatchObject({
          code: ErrorCode.AuthFailed,
        });
      }
      const limited = client.login(username, "wrong", FAST.keyStretching);
      await expect(limited).rejects.toMatchObject({ code: ErrorCode.RateLimited });
      await limited.catch((error: { retryAfterMs: number }) => expect(error.retryAfterMs).toBeGreaterThan(0));
    }
    client.close();
  });

  it("limits registrations per source address", async () => {
    const client = await connectGateway(gw.baseUrl);
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) {
      try {
        await client.register(
          uniqueName("reg"),
          "password",
          crypto.getRandomValues(new Uint8Array(32)),
          FAST.keyStretching,
        );
        codes.push(0);
      } catch (error) {
        codes.push((error as { code: number }).code);
      }
    }
    // The registration in the first test used one of the four.
    expect(codes.filter((c) => c === 0).length).toBeLessThanOrEqual(3);
    expect(codes).toContain(ErrorCode.RateLimited);
    client.close();
  });
});
