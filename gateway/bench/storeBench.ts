/**
 * A store micro-benchmark: enqueue `messages` envelopes in batches of `batchSize` (as group commit
 * would), then drain them with fetch + ack pages of `batchSize`. Uses fresh random recipients, so it
 * can run against a store that holds other data; it leaves no envelopes behind.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { NewEnvelope, Store } from "../src/store/types.ts";

export interface BenchOptions {
  messages: number;
  batchSize: number;
  payloadBytes: number;
  /** Recipients the messages are spread over, round robin. Default 1. */
  recipients?: number;
}

export interface BenchResult {
  enqueuePerSec: number;
  fetchAckPerSec: number;
}

export async function benchStore(store: Store, options: BenchOptions): Promise<BenchResult> {
  const { messages, batchSize, payloadBytes, recipients = 1 } = options;
  for (const [k, v] of Object.entries({ messages, batchSize, recipients })) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer`);
  }
  const keys = Array.from({ length: recipients }, () => new Uint8Array(randomBytes(32)));
  const payload = new Uint8Array(randomBytes(payloadBytes));
  const channelId = new Uint8Array(randomBytes(16));

  const enqueueStart = performance.now();
  for (let sent = 0; sent < messages;) {
    const n = Math.min(batchSize, messages - sent);
    const batch: NewEnvelope[] = [];
    for (let i = 0; i < n; i++) {
      const recipientKey = keys[(sent + i) % recipients]!;
      batch.push({ recipientKey, channelId, payload, enqueuedAtMs: Date.now() });
    }
    await store.enqueue(batch);
    sent += n;
  }
  const enqueueMs = performance.now() - enqueueStart;

  const drainStart = performance.now();
  let drained = 0;
  for (const key of keys) {
    for (;;) {
      const page = await store.fetch(key, 0, batchSize);
      const last = page.at(-1);
      if (last === undefined) break;
      drained += await store.ack(key, last.seq);
    }
  }
  const drainMs = performance.now() - drainStart;
  if (drained !== messages) throw new Error(`bench drained ${drained} of ${messages} messages`);

  return {
    enqueuePerSec: Math.round((messages / enqueueMs) * 1000),
    fetchAckPerSec: Math.round((messages / drainMs) * 1000),
  };
}
