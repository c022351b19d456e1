/**
 * `npm run bench`: measures the delivery service end to end (real gateway process, WebTransport, Node
 * clients), the bare transport for comparison, and the store alone; writes docs/benchmarks.md.
 * Options: --quick (shorter runs, for a smoke check), --no-write.
 */
import { cpus, freemem, totalmem, type, release } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { startGatewayProcess } from "../src/testing/index.ts";
import { writeBenchSection } from "../../scripts/benchDoc.ts";
import { runEchoBench } from "@qpq/transport/bench";
import { MemoryStore, SqliteStore } from "../src/store/index.ts";
import { benchStore } from "./storeBench.ts";
import { codecTable, runCodecBench } from "./codecBench.ts";
import { makeUsers, measureLatency, measureThroughput, type ThroughputResult } from "./deliveryBench.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

const SECTION = "## Gateway and transport (Node clients over WebTransport)";
const quick = process.argv.includes("--quick");
const write = !process.argv.includes("--no-write");
const seconds = quick ? 2 : 8;
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Client counts of the throughput runs; the bare echo runs the same so the rows compare. */
const CLIENT_COUNTS = [2, 10, 100];

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");
const k = (n: number) => `${(n / 1000).toFixed(1)}k`;

async function main(): Promise<void> {
  const lines: string[] = [];
  const log = (line: string) => {
    console.log(line);
    lines.push(line);
  };

  const gw = await startGatewayProcess({ env: { QPQ_MAX_QUEUED: "1000000", QPQ_RATE_LIMIT: "off" } });
  try {
    console.log("registering users…");
    const pair = await makeUsers(gw, 2, "lat");
    const latency = await measureLatency(pair[0]!, pair[1]!, quick ? 300 : 2000);
    for (const u of pair) u.client.close();

    const results: ThroughputResult[] = [];
    // Two at least: a ring of one would send into a channel of one, which delivers to nobody.
    for (const clients of CLIENT_COUNTS) {
      const users = await makeUsers(gw, clients, `c${clients}u`);
      const window = Math.max(1, Math.ceil(64 / clients));
      results.push(await measureThroughput(users, seconds, window));
      console.log(`C=${clients}: ${k(results.at(-1)!.perSecond)} msg/s`);
      for (const u of users) u.client.close();
    }

    const echo = [];
    for (const clients of CLIENT_COUNTS) {
      echo.push({
        clients,
        ...(await runEchoBench({
          clients,
          seconds,
          payloadBytes: 1024,
          inFlight: Math.max(1, Math.ceil(64 / clients)),
        })),
      });
    }

    const dir = mkdtempSync(join(tmpdir(), "qpq-bench-"));
    const sqlite = SqliteStore.open({ path: join(dir, "bench.sqlite"), synchronous: "full" });
    const storeFull = await benchStore(sqlite, {
      messages: quick ? 5000 : 50_000,
      batchSize: 256,
      payloadBytes: 1024,
    });
    await sqlite.close();
    const memory = await benchStore(new MemoryStore(), {
      messages: quick ? 5000 : 50_000,
      batchSize: 256,
      payloadBytes: 1024,
    });
    rmSync(dir, { recursive: true, force: true });
    const codec = runCodecBench(quick);

    const cpu = cpus()[0]?.model ?? "unknown CPU";
    log(SECTION);
    log("");
    log(
      `Measured by \`npm run bench\`${quick ? " --quick" : ""} on ${new Date().toISOString().slice(0, 10)}.`,
    );
    log("");
    log(
      `Machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM (${(freemem() / 2 ** 30).toFixed(0)} GiB free), ${type()} ${release()}, Node ${process.version}.`,
    );
    log("Gateway and all benchmark clients run on this one machine over loopback: the gateway process");
    log("on one core, the clients (one Node process, same JS WebTransport stack) on the other.");
    log("");
    log("### Delivery through the gateway (1 KiB payloads, SQLite with synchronous=FULL)");
    log("");
    log(
      `Enqueue-to-push latency, one message at a time: p50 ${fmt(latency.p50)} ms, p99 ${fmt(latency.p99)} ms.`,
    );
    log("");
    log(
      "| clients | delivered msgs/s | latency p50 ms | latency p99 ms | bare WT echo msgs/s | echo p50 ms | gateway / bare |",
    );
    log("|---|---|---|---|---|---|---|");
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      const e = echo[i]!;
      log(
        `| ${r.clients} | ${k(r.perSecond)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${k(e.msgsPerSec)} | ${fmt(e.p50Ms)} | ${fmt(r.perSecond / e.msgsPerSec)} |`,
      );
    }
    log("");
    log("Each client sends to the next one in a ring with a window of enqueues in flight (64 in total");
    log("across clients) and is itself subscribed; a delivered message is a push received by its");
    log("recipient. The bare echo uses the same WebTransport stack with a server that only echoes, so");
    log("the ratio shows what the gateway itself costs (decode, authorize, durable group commit, push).");
    log("");
    log("### Store alone (1 KiB, batches of 256)");
    log("");
    log("| store | enqueue msgs/s | fetch+ack msgs/s |");
    log("|---|---|---|");
    log(`| SQLite FULL (WAL) | ${k(storeFull.enqueuePerSec)} | ${k(storeFull.fetchAckPerSec)} |`);
    log(`| memory | ${k(memory.enqueuePerSec)} | ${k(memory.fetchAckPerSec)} |`);
    log("");
    log("### Codec alone (encode + decode, one process; capnp-es on the same frames as a yardstick)");
    log("");
    for (const line of codecTable(codec)) log(line);
    log("");
    if (write) await writeBenchSection(join(root, "docs", "benchmarks.md"), SECTION, lines.join("\n") + "\n");
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
