import { afterAll, describe, expect, it } from "vitest";
import { bytesEqual } from "@qpq/shared/bytes";
import {
  loginAsDevice,
  openChannel,
  privateMessage,
  registerActor,
  startGatewayProcess,
  type GatewayProcess,
} from "./helpers.ts";

const started: GatewayProcess[] = [];

afterAll(async () => {
  for (const gw of started) await gw.kill("SIGKILL");
  started[0]?.cleanup();
});

describe("durability", () => {
  it("nothing acknowledged is lost when the gateway is SIGKILLed and restarted", async () => {
    const first = await startGatewayProcess();
    started.push(first);
    const alice = await registerActor(first, "alice");
    const bob = await registerActor(first, "bob");
    bob.messenger.close();

    const sender = await loginAsDevice(first, alice);
    const bobKey = await sender.resolveUser(bob.name);
    const { channelId, groupId } = await openChannel(sender, [bobKey]);
    const sent: { seq: number; payload: Uint8Array }[] = [];
    for (let i = 0; i < 50; i++) {
      const payload = privateMessage(groupId, 0n, 64 + i);
      sent.push({ seq: await sender.enqueueToChannel(channelId, payload), payload });
    }
    // Every enqueue above was acknowledged; now the process dies without any chance to flush.
    await first.kill("SIGKILL");

    const second = await startGatewayProcess({ dataDir: first.dataDir });
    started.push(second);
    const reader = await loginAsDevice(second, bob);
    const { envelopes } = await reader.fetch(0, 1000);
    for (const { seq, payload } of sent) {
      const found = envelopes.find((e) => e.seq === seq);
      expect(found, `seq ${seq}`).toBeDefined();
      expect(bytesEqual(found!.payload, payload)).toBe(true);
      expect(bytesEqual(found!.channelId, channelId)).toBe(true);
    }
    // The channel survived too: bob is still a member, and may narrow his fetch to it.
    expect((await reader.fetch(0, 1000, channelId)).envelopes).toHaveLength(envelopes.length);
    reader.close();
    alice.messenger.close();
  });
});
