import { afterAll, describe, expect, it } from "vitest";
import { ConnectionManager, MemoryClientStore, Messenger, type ConnectionStatus } from "@qpq/shared/client";
import { connectWebTransport } from "@qpq/transport/client";
import {
  FAST,
  uniqueName,
  startGatewayProcess,
  waitForConversation,
  waitForMessages,
  type Actor,
  type GatewayProcess,
} from "./helpers.ts";

const started: GatewayProcess[] = [];

afterAll(async () => {
  for (const gw of started) await gw.kill();
  started[0]?.cleanup();
});

function waitForStatus(cm: ConnectionManager, wanted: ConnectionStatus, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (cm.status === wanted) return resolve();
    const timer = setTimeout(() => {
      off();
      reject(new Error(`status stayed ${cm.status}, wanted ${wanted}`));
    }, timeoutMs);
    const off = cm.onStatus((status) => {
      if (status !== wanted) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

async function keptActor(baseUrl: string, base: string): Promise<Actor & { cm: ConnectionManager }> {
  const cm = new ConnectionManager({
    baseUrl,
    openTransport: (url, hashes) => connectWebTransport(url, { serverCertificateHashes: hashes }),
    initialBackoffMs: 50,
    maxBackoffMs: 500,
  });
  const name = uniqueName(base);
  const password = `pw ${name}`;
  const store = new MemoryClientStore();
  const gw = await cm.connect();
  const messenger = await Messenger.register(gw, name, password, { store, ...FAST });
  cm.keep(messenger, gw, messenger.login.sessionToken);
  const actor = { name, password, store, messenger, received: [] as Actor["received"], cm };
  messenger.on("message", (m) => {
    if (m.status === "received") actor.received.push(m);
  });
  return actor;
}

describe("reconnect", () => {
  it("clients reconnect after a gateway restart, resume their sessions and catch up", async () => {
    const first = await startGatewayProcess();
    started.push(first);
    const alice = await keptActor(first.baseUrl, "alice");
    const bob = await keptActor(first.baseUrl, "bob");
    const groupId = await alice.messenger.createConversation("resilient", [bob.name]);
    await waitForConversation(bob);
    await alice.messenger.send(groupId, "before");
    await waitForMessages(bob, groupId, 1);

    await first.kill("SIGTERM");
    await Promise.all([waitForStatus(alice.cm, "offline"), waitForStatus(bob.cm, "offline")]);
    // Written while offline: it stays in the outbox and goes out after the reconnect.
    const queued = await alice.messenger.send(groupId, "during");
    expect(queued.status).toBe("queued");

    const second = await startGatewayProcess({
      dataDir: first.dataDir,
      httpPort: first.httpPort,
      wtPort: first.wtPort,
    });
    started.push(second);
    await Promise.all([waitForStatus(alice.cm, "online"), waitForStatus(bob.cm, "online")]);
    await alice.messenger.send(groupId, "after");

    const got = await waitForMessages(bob, groupId, 3);
    expect(got.map((m) => m.text).sort()).toEqual(["after", "before", "during"]);
    alice.cm.stop();
    bob.cm.stop();
    alice.messenger.close();
    bob.messenger.close();
  });

  it("a SIGKILLed gateway is noticed by the heartbeat; after its restart the queued message arrives once and replies flow", async () => {
    const first = await startGatewayProcess();
    started.push(first);
    const alice = await keptActor(first.baseUrl, "alice");
    const bob = await keptActor(first.baseUrl, "bob");
    const groupId = await alice.messenger.createConversation("crash", [bob.name]);
    await waitForConversation(bob);
    await alice.messenger.send(groupId, "before");
    await waitForMessages(bob, groupId, 1);

    // No CONNECTION_CLOSE reaches the clients: only the heartbeat can tell.
    await first.kill("SIGKILL");
    await Promise.all([waitForStatus(alice.cm, "offline"), waitForStatus(bob.cm, "offline")]);
    expect((await alice.messenger.send(groupId, "during")).status).toBe("queued");

    const second = await startGatewayProcess({
      dataDir: first.dataDir,
      httpPort: first.httpPort,
      wtPort: first.wtPort,
    });
    started.push(second);
    await Promise.all([waitForStatus(alice.cm, "online"), waitForStatus(bob.cm, "online")]);
    expect((await waitForMessages(bob, groupId, 2)).map((m) => m.text)).toEqual(["before", "during"]);
    await bob.messenger.send(groupId, "reply");
    expect((await waitForMessages(alice, groupId, 1)).map((m) => m.text)).toEqual(["reply"]);
    const mine = await alice.messenger.messages(groupId);
    expect(mine.filter((m) => m.sender === alice.name).map((m) => [m.text, m.status])).toEqual([
      ["before", "sent"],
      ["during", "sent"],
    ]);
    expect((await bob.messenger.messages(groupId)).map((m) => m.text)).toEqual(["before", "during", "reply"]);
    alice.cm.stop();
    bob.cm.stop();
    alice.messenger.close();
    bob.messenger.close();
  });
});
