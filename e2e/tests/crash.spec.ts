import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "@playwright/test";
import { startGatewayProcess, type GatewayProcess } from "@qpq/gateway/testing";
import { Actor } from "./actors.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
// Its own gateway, since this scenario kills it: the suite's shared one must survive for the others.
const env = { QPQ_WEB_ROOT: join(root, "web", "dist"), QPQ_REGISTER_PER_ADDRESS: "1000/1000" };

/**
 * The heartbeat's worst case (shared/src/client/connection.ts: an interval, then two missed deadlines)
 * plus room for a loaded machine. Well below the QUIC idle timeout, which is what a page without the
 * heartbeat would wait for.
 */
const NOTICED_WITHIN_MS = 20_000;

test("after a SIGKILL and a restart of the gateway, both pages notice, reconnect and deliver what was queued, once", async ({
  browser,
}) => {
  test.setTimeout(180_000);
  const gateways: GatewayProcess[] = [];
  try {
    const first = await startGatewayProcess({ env });
    gateways.push(first);
    const alice = await Actor.open(browser, "alice", first.baseUrl);
    const bob = await Actor.open(browser, "bob", first.baseUrl);
    await alice.register();
    await bob.register();
    await alice.startConversationWith(bob);
    await alice.send("before the crash");
    await bob.open(alice.name);
    await expect(bob.messages()).toHaveText(["before the crash"]);

    await first.kill("SIGKILL");
    for (const actor of [alice, bob]) {
      await expect(actor.badge()).toHaveText("Offline — reconnecting", { timeout: NOTICED_WITHIN_MS });
    }

    // Written while the gateway is down: kept in the outbox, shown as waiting, not as lost.
    await alice.send("while the gateway was down");
    await expect(alice.message("while the gateway was down")).toContainText("· Queued");

    const second = await startGatewayProcess({
      env,
      dataDir: first.dataDir,
      httpPort: first.httpPort,
      wtPort: first.wtPort,
    });
    gateways.push(second);
    for (const actor of [alice, bob]) {
      await expect(actor.badge()).toHaveText("Online", { timeout: NOTICED_WITHIN_MS });
    }
    await alice.expectSent("while the gateway was down");
    const expected = ["before the crash", "while the gateway was down"];
    await expect(bob.messages()).toHaveText(expected);

    await bob.send("back after the restart");
    await bob.expectSent("back after the restart");
    await expect(alice.messages()).toHaveText([...expected, "back after the restart"]);
    // A round trip later nothing arrived twice on either side.
    await alice.send("all here");
    await expect(bob.messages()).toHaveText([...expected, "back after the restart", "all here"]);
    await expect(alice.messages()).toHaveText([...expected, "back after the restart", "all here"]);

    await alice.close();
    await bob.close();
  } finally {
    for (const gateway of gateways) await gateway.kill("SIGKILL");
    gateways[0]?.cleanup();
  }
});
