import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "@qpq/shared/protocol";
import { bytesEqual } from "@qpq/shared/bytes";
import {
  connectGateway,
  loginAsDevice,
  registerActor,
  startGatewayProcess,
  type GatewayProcess,
} from "./helpers.ts";

let gw: GatewayProcess;

beforeAll(async () => {
  gw = await startGatewayProcess();
});

afterAll(async () => {
  await gw?.kill();
  gw?.cleanup();
});

describe("KeyPackage directory", () => {
  it("hands out each KeyPackage once, then keeps serving the last-resort one", async () => {
    const bob = await registerActor(gw, "bob"); // publishes a stock of 3 plus a last-resort KeyPackage
    const alice = await registerActor(gw, "alice");
    const client = await connectGateway(gw.baseUrl);
    await client.login(alice.name, alice.password, "memory-constrained");
    const bobKey = await client.resolveUser(bob.name);

    // Bob has one device: each call claims one KeyPackage of it, with its certificate.
    const served = [];
    for (let i = 0; i < 5; i++) {
      const perDevice = await client.fetchKeyPackages(bobKey);
      expect(perDevice).toHaveLength(1);
      expect(bytesEqual(perDevice[0]!.deviceKey, bob.messenger.identity.signaturePublicKey)).toBe(true);
      served.push(perDevice[0]!);
    }
    const single = served.filter((s) => !s.lastResort);
    expect(single).toHaveLength(3);
    for (let i = 0; i < single.length; i++) {
      for (let j = i + 1; j < single.length; j++) {
        expect(bytesEqual(single[i]!.keyPackage, single[j]!.keyPackage)).toBe(false);
      }
    }
    expect(served[3]!.lastResort).toBe(true);
    expect(served[4]!.lastResort).toBe(true);
    expect(bytesEqual(served[3]!.keyPackage, served[4]!.keyPackage)).toBe(true);
    client.close();
    alice.messenger.close();
    bob.messenger.close();
  });

  it("refuses KeyPackages that are not signed by the publishing device", async () => {
    const alice = await registerActor(gw, "alice");
    const bob = await registerActor(gw, "bob");
    const client = await loginAsDevice(gw, alice);
    const served = await client.fetchKeyPackages(await client.resolveUser(bob.name));
    const keyPackage = served[0]!.keyPackage;
    await expect(client.publishKeyPackages([keyPackage])).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
    await expect(client.publishKeyPackages([new Uint8Array([1, 2, 3])])).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
    client.close();
    alice.messenger.close();
    bob.messenger.close();
  });

  it("a user without KeyPackages gives NoKeyPackage and an unknown name UserNotFound", async () => {
    const alice = await registerActor(gw, "alice");
    const client = await connectGateway(gw.baseUrl);
    await client.login(alice.name, alice.password, "memory-constrained");
    await expect(client.resolveUser("no-such-user")).rejects.toMatchObject({ code: ErrorCode.UserNotFound });
    await expect(client.fetchKeyPackage(new Uint8Array(32).fill(9))).rejects.toMatchObject({
      code: ErrorCode.NoKeyPackage,
    });
    client.close();
    alice.messenger.close();
  });
});
