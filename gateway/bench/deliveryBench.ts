/**
 * Delivery benchmarks through the real gateway process over WebTransport: enqueue-to-push latency
 * and sustained delivered messages per second with C clients. Each client sends 1 KiB payloads to
 * the next client in a ring, through a channel of the two, and receives from the previous one, so
 * every client is both a sender and a subscribed recipient; recipients acknowledge in batches like
 * the real client does.
 */
import type { GatewayClient } from "@qpq/shared/client";
import type { Push } from "@qpq/shared/protocol";
import { connectGateway, type GatewayProcess } from "../src/testing/index.ts";

export interface BenchUser {
  name: string;
  identityKey: Uint8Array;
  client: GatewayClient;
}

/** Registers `count` users with throwaway identity keys (the gateway never checks MLS here) and logs them in. */
export async function makeUsers(gw: GatewayProcess, count: number, prefix: string): Promise<BenchUser[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  const keys = names.map(() => crypto.getRandomValues(new Uint8Array(32)));
  const registrar = await connectGateway(gw.baseUrl, "qpq-bench");
  for (let i = 0; i < count; i++) {
    await registrar.register(names[i]!, "bench password", keys[i]!, "memory-constrained");
  }
  registrar.close();
  const users: BenchUser[] = [];
  for (let i = 0; i < count; i++) {
    const client = await connectGateway(gw.baseUrl, "qpq-bench");
    await client.login(names[i]!, "bench password", "memory-constrained");
    // Logging in a hundred users takes longer than the QUIC idle timeout: keep the early ones alive.
    const keepAlive = setInterval(() => void client.health().catch(() => {}), 10_000);
    keepAlive.unref();
    void client.closed.then(() => clearInterval(keepAlive));
    users.push({ name: names[i]!, identityKey: keys[i]!, client });
  }
  return users;
}

/** Bytes of the PrivateMessage header groupMessage writes for a 16-byte group id. */
export const GROUP_HEADER_BYTES = 4 + 1 + 16 + 8 + 1;

/**
 * A payload of `bytes` with a valid MLS PrivateMessage header for the group at epoch 0 (the gateway
 * reads only the header, so the rest may be anything).
 */
export function groupMessage(groupId: Uint8Array, bytes = 1024): Uint8Array {
  if (groupId.length !== 16) throw new Error("groupMessage writes a header for a 16-byte group id");
  const out = new Uint8Array(bytes);
  out.set([0, 1, 0, 2, groupId.length], 0);
  out.set(groupId, 5);
  out[GROUP_HEADER_BYTES - 1] = 1; // epoch 0 (zeros), content type application
  return out;
}

export interface BenchChannel {
  channelId: Uint8Array;
  groupId: Uint8Array;
}

/** A channel of a and b, created by a, for a made-up group at epoch 0: what a conversation of two is. */
export async function pairChannel(a: BenchUser, b: BenchUser): Promise<BenchChannel> {
  const groupId = crypto.getRandomValues(new Uint8Array(16));
  const channelId = await a.client.createChannel(groupId, [b.identityKey], 0);
  return { channelId, groupId };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Sends one message at a time from a to b and times enqueue call to push arrival. */
export async function measureLatency(
  a: BenchUser,
  b: BenchUser,
  messages: number,
): Promise<{ p50: number; p99: number }> {
  const channel = await pairChannel(a, b);
  const payload = groupMessage(channel.groupId);
  let waiting: ((at: number) => void) | undefined;
  let lastSeq = 0;
  b.client.onPush((push: Push) => {
    if (push.type !== "envelope") return;
    lastSeq = push.envelope.seq;
    waiting?.(performance.now());
  });
  await b.client.subscribe(0);
  const samples: number[] = [];
  for (let i = 0; i < messages; i++) {
    const arrived = new Promise<number>((resolve) => (waiting = resolve));
    const start = performance.now();
    await a.client.enqueueToChannel(channel.channelId, payload);
    samples.push((await arrived) - start);
    if (i % 100 === 99) await b.client.ack(lastSeq);
  }
  await b.client.ack(lastSeq);
  samples.sort((x, y) => x - y);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

export interface ThroughputResult {
  clients: number;
  delivered: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
}

/**
 * Each client keeps `window` enqueues in flight for `seconds`; counts pushes received. Latency is
 * enqueue call to push arrival, sampled for every message. Needs two clients at least: a channel
 * never delivers back to the member who sent.
 */
export async function measureThroughput(
  users: BenchUser[],
  seconds: number,
  window: number,
): Promise<ThroughputResult> {
  const n = users.length;
  if (n < 2) throw new Error("the ring needs at least two clients");
  const channels = await Promise.all(users.map((user, i) => pairChannel(user, users[(i + 1) % n]!)));
  /** Send time by (sender index, 24-bit counter), keyed as one number: cheaper than a string key. */
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let delivered = 0;
  let running = true;

  await Promise.all(
    users.map(async (user, i) => {
      let lastSeq = 0;
      let unacked = 0;
      user.client.onPush((push) => {
        if (push.type !== "envelope" || !running) return;
        delivered++;
        lastSeq = push.envelope.seq;
        const p = push.envelope.payload;
        const h = GROUP_HEADER_BYTES;
        const key = ((i + n - 1) % n) * 0x1000000 + (p[h]! | (p[h + 1]! << 8) | (p[h + 2]! << 16));
        const t = sentAt.get(key);
        if (t !== undefined) {
          latencies.push(performance.now() - t);
          sentAt.delete(key);
        }
        if (++unacked >= 256) {
          unacked = 0;
          user.client.ack(lastSeq).catch(() => {});
        }
      });
      await user.client.subscribe(0);
    }),
  );

  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    users.map(async (user, i) => {
      const channel = channels[i]!;
      const payload = groupMessage(channel.groupId);
      let counter = 0;
      const lane = async () => {
        while (performance.now() < deadline) {
          const id = counter++ & 0xffffff;
          const body = payload.slice();
          body[GROUP_HEADER_BYTES] = id & 0xff;
          body[GROUP_HEADER_BYTES + 1] = (id >> 8) & 0xff;
          body[GROUP_HEADER_BYTES + 2] = (id >> 16) & 0xff;
          sentAt.set(i * 0x1000000 + id, performance.now());
          try {
            await user.client.enqueueToChannel(channel.channelId, body);
          } catch {
            // QueueFull under overload: the run goes on; the count shows what got through.
          }
        }
      };
      await Promise.all(Array.from({ length: window }, lane));
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  running = false;
  latencies.sort((x, y) => x - y);
  return {
    clients: n,
    delivered,
    seconds: elapsed,
    perSecond: delivered / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}
