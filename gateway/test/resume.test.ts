import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Messenger } from "@qpq/shared/client";
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { FAST, connectGateway, registerActor, startGatewayProcess, type GatewayProcess } from "./helpers.ts";

let gateway: GatewayProcess;

beforeAll(async () => {
  gateway = await startGatewayProcess();
});

afterAll(async () => {
  await gateway?.kill();
  gateway?.cleanup();
});

describe("Messenger.resume (a later run continuing a login without the password)", () => {
  it("continues the session on a new connection with the same device store, and stops after logout", async () => {
    const alice = await registerActor(gateway, "alice");
    const bob = await registerActor(gateway, "bob");
    const token = alice.messenger.login.sessionToken;
    alice.messenger.close();

    const resumed = await Messenger.resume(await connectGateway(gateway.baseUrl), token, alice.store, FAST);
    expect(resumed.username).toBe(alice.name);
    expect(resumed.login.exportKey).toHaveLength(0);
    const groupId = await resumed.createConversation("after resume", [bob.name]);
    await expect(resumed.send(groupId, "still me")).resolves.toMatchObject({ status: "sent" });

    await resumed.logout();
    resumed.close();
    const gw = await connectGateway(gateway.baseUrl);
    const again = Messenger.resume(gw, token, alice.store, FAST);
    await expect(again).rejects.toMatchObject({ code: ErrorCode.SessionInvalid });
    await expect(again).rejects.toBeInstanceOf(QpqError);
    gw.close();
  });

  it("refuses a store that holds another account's keys", async () => {
    const alice = await registerActor(gateway, "alice");
    const bob = await registerActor(gateway, "bob");
    const token = alice.messenger.login.sessionToken;
    const gw = await connectGateway(gateway.baseUrl);
    await expect(Messenger.resume(gw, token, bob.store, FAST)).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
    gw.close();
  });
});
