import type { Envelope } from "@qpq/shared/protocol";
import { describe, expect, it, vi } from "vitest";
import { MemoryStore } from "../store/memoryStore.ts";
import { Subscription, type PushSink } from "./subscription.ts";

describe("Subscription", () => {
  it("drops its page when the sink is congested and re-reads the store once it drains", async () => {
    const store = new MemoryStore();
    const recipientKey = crypto.getRandomValues(new Uint8Array(32));
    const channelId = crypto.getRandomValues(new Uint8Array(16));
    await store.enqueue(
      Array.from({ length: 300 }, (_, i) => ({
        recipientKey,
        channelId,
        payload: new Uint8Array([i & 0xff]),
        enqueuedAtMs: 0,
      })),
    );
    const sent: number[] = [];
    let congested = false;
    let drain: (() => void) | undefined;
    const sink: PushSink = {
      send: (envelope: Envelope) => {
        sent.push(envelope.seq);
        // The client stops reading after five pushes.
        if (sent.length === 5) congested = true;
        return Promise.resolve();
      },
      congested: () => congested,
      drained: () => new Promise<void>((resolve) => (drain = resolve)),
    };
    const errors: unknown[] = [];
    const subscription = new Subscription(store, recipientKey, 0, sink, (e) => errors.push(e), {
      maxPageBytes: 1 << 20,
    });
    subscription.start();
    await vi.waitFor(() => expect(drain).toBeDefined());
    // Nothing is sent into a congested sink (and the page it had read is no longer held).
    expect(sent).toEqual([1, 2, 3, 4, 5]);
    congested = false;
    drain!();
    await vi.waitFor(() => expect(sent).toHaveLength(300));
    expect(sent).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(errors).toEqual([]);
    subscription.close();
  });
});
