/**
 * `npm run soak` (not part of `npm test`): a real gateway process serves a well-behaved pair of users
 * while abusive clients do, over and over, what the hostile-peer review found: requests whose answers
 * they never read, subscriptions they never drain, frames they never finish, connections that never
 * say hello, garbage frames. At the end it prints the gateway's RSS and CPU time and the well-behaved
 * pair's enqueue-to-push latency. Options: --seconds N (default 180).
 */
import { readFileSync } from "node:fs";
import {
  encodeClientFrame,
  encodeFrame,
  encodeFrames,
  type ClientFrame,
  type Push,
} from "@qpq/shared/protocol";
import { discoverGateway } from "@qpq/shared/client";
import { connectWebTransport, type WebTransportClientSession } from "@qpq/transport/client";
import { connectGateway, startGatewayProcess, type GatewayProcess } from "../src/testing/index.ts";
import { groupMessage, makeUsers, pairChannel, type BenchUser } from "./deliveryBench.ts";

const at = process.argv.indexOf("--seconds");
const seconds = at > 0 ? Number(process.argv[at + 1]) : 180;
const empty = new Uint8Array(0);

interface Sample {
  rssBytes: number;
  cpuSeconds: number;
}

/** RSS and user+system CPU of a process, from /proc (Linux). */
function sample(pid: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  // Fields 14 and 15 of /proc/PID/stat (after the parenthesised name) are utime and stime in ticks.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssBytes: rss, cpuSeconds: ticks / 100 };
}

function frames(requests: ClientFrame["request"][], firstId: number): Uint8Array {
  return encodeFrames(requests.map((request, i) => encodeClientFrame({ requestId: firstId + i, request })));
}

async function rawSession(gw: GatewayProcess): Promise<WebTransportClientSession> {
  const location = await discoverGateway(gw.baseUrl);
  const wt = connectWebTransport(location.webtransportUrl, {
    serverCertificateHashes: location.certificateHashes,
  });
  await wt.ready;
  return wt;
}

/** One round of abuse on a fresh connection; everything it opens is abandoned, never read. */
async function abuse(gw: GatewayProcess, token: Uint8Array, round: number): Promise<void> {
  const wt = await rawSession(gw);
  try {
    const hello = { type: "hello" as const, hello: { minVersion: 2, maxVersion: 2, client: "soak-abuser" } };
    const resume = { type: "resumeSession" as const, resumeSession: { sessionToken: token } };
    const fetchAll = { type: "fetch" as const, fetch: { afterSeq: 0, limit: 0, channelId: empty } };
    const subscribe = { type: "subscribe" as const, subscribe: { afterSeq: 0, channelId: empty } };
    const control = await wt.createBidirectionalStream();
    const writer = control.writable.getWriter();
    await writer.write(frames([hello, resume], 1));
    // Answers to fetches of a full queue, never read.
    const unread = await wt.createBidirectionalStream();
    void unread.writable.getWriter().write(frames(Array(50).fill(fetchAll), 10));
    const pushes = await wt.createBidirectionalStream();
    void pushes.writable.getWriter().write(frames(Array(5).fill(subscribe), 100));
    // A frame announced at 1 MB of which 10 bytes ever arrive.
    const partial = await wt.createBidirectionalStream();
    const prefix = new Uint8Array([0x00, 0x00, 0x10, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    void partial.writable.getWriter().write(prefix);
    // Garbage frames: typed errors back, which this client does not read either.
    const garbage = await wt.createBidirectionalStream();
    const junk = new Uint8Array(64).map((_, i) => (i * 37 + round) & 0xff);
    void garbage.writable.getWriter().write(encodeFrame(junk));
    // A connection that never says hello.
    const silent = await rawSession(gw);
    void silent.createBidirectionalStream().catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 1000));
    silent.close();
  } finally {
    wt.close();
  }
}

async function main(): Promise<void> {
  const gw = await startGatewayProcess({ env: { QPQ_MAX_QUEUED: "1000000", QPQ_RATE_LIMIT: "off" } });
  const pid = gw.child.pid!;
  try {
    const [alice, bob, victim, sender] = (await makeUsers(gw, 4, "soak")) as [
      BenchUser,
      BenchUser,
      BenchUser,
      BenchUser,
    ];
    // The abusers act as `victim`, whose queue holds 4 MB, so every fetch they never read is large.
    const victimChannel = await pairChannel(sender, victim);
    for (let i = 0; i < 16; i++) {
      await sender.client.enqueueToChannel(
        victimChannel.channelId,
        groupMessage(victimChannel.groupId, 250_000),
      );
    }
    // A session of the victim's for the abusers to resume (a connection holds one session only).
    const victimLogin = await connectGateway(gw.baseUrl, "qpq-soak");
    const { sessionToken } = await victimLogin.login(victim.name, "bench password", "memory-constrained");

    const channel = await pairChannel(alice, bob);
    const payload = groupMessage(channel.groupId, 1024);
    let arrived: ((t: number) => void) | undefined;
    bob.client.onPush((push: Push) => {
      if (push.type === "envelope") arrived?.(performance.now());
    });
    await bob.client.subscribe(0);

    const start = sample(pid);
    const deadline = Date.now() + seconds * 1000;
    const latencies: number[] = [];
    let maxRss = start.rssBytes;
    let rounds = 0;
    const abusers = (async () => {
      while (Date.now() < deadline) await abuse(gw, sessionToken, rounds++).catch(() => {});
    })();
    while (Date.now() < deadline) {
      const got = new Promise<number>((resolve) => (arrived = resolve));
      const t0 = performance.now();
      await alice.client.enqueueToChannel(channel.channelId, payload);
      latencies.push((await got) - t0);
      if (latencies.length % 100 === 0) await bob.client.ack(Number.MAX_SAFE_INTEGER);
      maxRss = Math.max(maxRss, sample(pid).rssBytes);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await abusers;
    const end = sample(pid);
    latencies.sort((a, b) => a - b);
    const pct = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
    const mib = (b: number) => (b / 2 ** 20).toFixed(0);
    console.log(`soak: ${seconds} s, ${rounds} abusive rounds, ${latencies.length} well-behaved messages`);
    console.log(
      `gateway RSS: start ${mib(start.rssBytes)} MiB, max ${mib(maxRss)} MiB, end ${mib(end.rssBytes)} MiB`,
    );
    console.log(`gateway CPU: ${(end.cpuSeconds - start.cpuSeconds).toFixed(1)} s over ${seconds} s`);
    console.log(
      `well-behaved latency: p50 ${pct(50).toFixed(2)} ms, p99 ${pct(99).toFixed(2)} ms, max ${pct(100).toFixed(2)} ms`,
    );
    for (const u of [alice, bob, victim, sender]) u.client.close();
    victimLogin.close();
  } finally {
    await gw.kill();
    gw.cleanup();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
