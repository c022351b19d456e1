import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, PROTOCOL_VERSION, QpqError } from "@qpq/shared/protocol";
import { discoverGateway } from "@qpq/shared/client";
import { RpcClient } from "@qpq/shared/rpc";
import { connectWebTransport } from "@qpq/transport/client";
import {
  connectGateway,
  FAST,
  registerActor,
  startGatewayProcess,
  uniqueName,
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

async function loginError(username: string, password: string): Promise<QpqError> {
  const client = await connectGateway(gw.baseUrl);
  try {
    await client.login(username, password, FAST.keyStretching);
    throw new Error("login unexpectedly succeeded");
  } catch (error) {
    if (!(error instanceof QpqError)) throw error;
    return error;
  } finally {
    client.close();
  }
}

describe("OPAQUE authentication", () => {
  it("wrong password and unknown user fail with the same error code", async () => {
    const alice = await registerActor(gw, "alice");
    alice.messenger.close();
    const wrongPassword = await loginError(alice.name, "not the password");
    const unknownUser = await loginError(uniqueName("nobody"), "whatever");
    expect(wrongPassword.code).toBe(ErrorCode.AuthFailed);
    expect(unknownUser.code).toBe(wrongPassword.code);
    expect(unknownUser.detail).toBe(wrongPassword.detail);
  });

  it("a session token resumes on a new connection until logout revokes it", async () => {
    const alice = await registerActor(gw, "alice");
    const token = alice.messenger.login.sessionToken;

    const second = await connectGateway(gw.baseUrl);
    const info = await second.resumeSession(token);
    expect(info.username).toBe(alice.name);
    await second.logout();
    second.close();

    const third = await connectGateway(gw.baseUrl);
    await expect(third.resumeSession(token)).rejects.toMatchObject({ code: ErrorCode.SessionInvalid });
    third.close();
    alice.messenger.close();
  });

  it("operations before login are refused with Unauthenticated", async () => {
    const client = await connectGateway(gw.baseUrl);
    await expect(client.resolveUser("alice")).rejects.toMatchObject({ code: ErrorCode.Unauthenticated });
    await expect(client.fetch(0)).rejects.toMatchObject({ code: ErrorCode.Unauthenticated });
    await expect(client.enqueueToChannel(new Uint8Array(16), new Uint8Array([1]))).rejects.toMatchObject({
      code: ErrorCode.Unauthenticated,
    });
    expect((await client.health()).status).toBe("ok");
    client.close();
  });

  it("a taken username is refused with UsernameTaken", async () => {
    const alice = await registerActor(gw, "alice");
    const client = await connectGateway(gw.baseUrl);
    await expect(
      client.register(alice.name, "other password", new Uint8Array(32).fill(7), FAST.keyStretching),
    ).rejects.toMatchObject({
      code: ErrorCode.UsernameTaken,
    });
    client.close();
    alice.messenger.close();
  });

  it("registerFinish without a registerStart for that name on the same connection is refused", async () => {
    const location = await discoverGateway(gw.baseUrl);
    const wt = connectWebTransport(location.webtransportUrl, {
      serverCertificateHashes: location.certificateHashes,
    });
    const rpc = RpcClient.open(wt);
    await rpc.call("hello", { minVersion: PROTOCOL_VERSION, maxVersion: PROTOCOL_VERSION, client: "t" });
    await expect(
      rpc.call("registerFinish", {
        username: uniqueName("bulk"),
        registrationRecord: new Uint8Array(64).fill(1),
        identityKey: new Uint8Array(32).fill(2),
      }),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    rpc.close();
    wt.close();
  });
});
