import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "@qpq/shared/protocol";
import { fromUtf8, utf8 } from "@qpq/shared/bytes";
import { hybridKeyPair } from "@qpq/shared/crypto/hybrid";
import { connectGateway, registerActor, startGatewayProcess, type GatewayProcess } from "./helpers.ts";

let gw: GatewayProcess;

beforeAll(async () => {
  gw = await startGatewayProcess();
});

afterAll(async () => {
  await gw?.kill();
  gw?.cleanup();
});

describe("hybrid public keys", () => {
  it("each user publishes one at login; another user seals to it and only its owner opens it", async () => {
    const alice = await registerActor(gw, "alice");
    const bob = await registerActor(gw, "bob");
    const carol = await registerActor(gw, "carol");
    const aliceKey = alice.messenger.accountKey;

    const envelope = await bob.messenger.hybridKeys.sealTo(aliceKey, utf8("first contact"), "first-contact");
    expect(fromUtf8(alice.messenger.hybridKeys.open(envelope, "first-contact"))).toBe("first contact");
    expect(() => carol.messenger.hybridKeys.open(envelope, "first-contact")).toThrow();
    for (const actor of [alice, bob, carol]) actor.messenger.close();
  });

  it("refuses a malformed key and a key not signed by the caller's identity (InvalidArgument)", async () => {
    const alice = await registerActor(gw, "alice");
    const client = await connectGateway(gw.baseUrl);
    await client.login(alice.name, alice.password, "memory-constrained");
    const { publicKey } = hybridKeyPair();
    await expect(client.publishHybridKey(publicKey, new Uint8Array(64))).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
    await expect(
      client.publishHybridKey(new Uint8Array(1216).fill(0xff), new Uint8Array(64)),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    await expect(client.publishHybridKey(new Uint8Array(3), new Uint8Array(64))).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
    // The key published at login is still the one served.
    const served = await client.fetchHybridKey(alice.messenger.accountKey);
    expect(served.publicKey).toEqual(alice.messenger.hybridKeys.keyPair.publicKey);
    client.close();
    alice.messenger.close();
  });

  it("an identity without a published key gives NoHybridKey; a wrong-size identity InvalidArgument; no session Unauthenticated", async () => {
    const alice = await registerActor(gw, "alice");
    const client = await connectGateway(gw.baseUrl);
    await expect(client.fetchHybridKey(new Uint8Array(32))).rejects.toMatchObject({
      code: ErrorCode.Unauthenticated,
    });
    await client.login(alice.name, alice.password, "memory-constrained");
    await expect(client.fetchHybridKey(new Uint8Array(32).fill(7))).rejects.toMatchObject({
      code: ErrorCode.NoHybridKey,
    });
    await expect(client.fetchHybridKey(new Uint8Array(5))).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
    client.close();
    alice.messenger.close();
  });
});
