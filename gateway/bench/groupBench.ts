/**
 * `npm run bench:group`: one sender and a group of members on the real gateway process, sending the
 * same 1 KiB group messages once through a group channel (one upload, the gateway fans out) and once
 * through one two-member channel per recipient (one upload each, as pairwise sending would). Writes its
 * own section of docs/benchmarks.md.
 * Options: --no-write. Bounded: a fixed number of messages per mode.
 */
import { cpus, type } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Push } from "@qpq/shared/protocol";
import { startGatewayProcess } from "../src/testing/index.ts";
import { writeBenchSection } from "../../scripts/benchDoc.ts";
import { groupMessage, makeUsers, pairChannel, type BenchUser } from "./deliveryBench.ts";

const SECTION = "## Group channel fan-out";
const MEMBERS = 10;
const MESSAGES = 300;
const WINDOW = 16;
const write = !process.argv.includes("--no-write");
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

interface ModeResult {
  mode: string;
  seconds: number;
  uploads: number;
  uploadedBytes: number;
  deliveries: number;
}

async function run(
  mode: string,
  recipients: BenchUser[],
  send: () => Promise<number>,
  payloadBytes: number,
): Promise<ModeResult> {
  const expected = MESSAGES * recipients.length;
  let delivered = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const started = performance.now();
  let sent = 0;
  let uploads = 0;
  const worker = async () => {
    while (sent < MESSAGES) {
      sent++;
      const n = await send(); // read after the await: `uploads += await` would lose concurrent updates
      uploads += n;
    }
  };
  const onDelivery = () => {
    if (++delivered === expected) done();
  };
  for (const r of recipients) counters.set(r, onDelivery);
  await Promise.all(Array.from({ length: WINDOW }, worker));
  await all;
  const seconds = (performance.now() - started) / 1000;
  return { mode, seconds, uploads, uploadedBytes: uploads * payloadBytes, deliveries: delivered };
}

const counters = new Map<BenchUser, () => void>();

async function main(): Promise<void> {
  const gw = await startGatewayProcess({ env: { QPQ_MAX_QUEUED: "1000000", QPQ_RATE_LIMIT: "off" } });
  try {
    const users = await makeUsers(gw, MEMBERS, `grp${Date.now() % 100000}x`);
    const [sender, ...recipients] = users as [BenchUser, ...BenchUser[]];
    for (const r of recipients) {
      let lastSeq = 0;
      r.client.onPush((push: Push) => {
        if (push.type !== "envelope") return;
        lastSeq = push.envelope.seq;
        counters.get(r)?.();
        if (lastSeq % 256 === 0) void r.client.ack(lastSeq);
      });
      await r.client.subscribe(0);
    }
    const groupId = crypto.getRandomValues(new Uint8Array(16));
    const channelId = await sender.client.createChannel(
      groupId,
      recipients.map((r) => r.identityKey),
      0,
    );
    const payload = groupMessage(groupId);

    const channel = await run(
      "group channel (one upload, gateway fans out)",
      recipients,
      async () => {
        await sender.client.enqueueToChannel(channelId, payload);
        return 1;
      },
      payload.length,
    );
    const pairs = await Promise.all(
      recipients.map(async (r) => {
        const pair = await pairChannel(sender, r);
        return { channelId: pair.channelId, payload: groupMessage(pair.groupId) };
      }),
    );
    const pairwise = await run(
      "pairwise (one two-member channel per recipient)",
      recipients,
      async () => {
        await Promise.all(pairs.map((p) => sender.client.enqueueToChannel(p.channelId, p.payload)));
        return pairs.length;
      },
      payload.length,
    );
    for (const u of users) u.client.close();

    const rows = [channel, pairwise].map(
      (r) =>
        `| ${r.mode} | ${MESSAGES} | ${r.uploads} | ${(r.uploadedBytes / 1024).toFixed(0)} | ` +
        `${(r.deliveries / r.seconds).toFixed(0)} | ${(MESSAGES / r.seconds).toFixed(0)} |`,
    );
    const section = [
      SECTION,
      "",
      `Measured by \`npm run bench:group\` on ${new Date().toISOString().slice(0, 10)} (${cpus().length} × ` +
        `${cpus()[0]?.model.split(" ").slice(0, 2).join(" ") ?? "CPU"}, ${type()}); gateway and clients on one machine over loopback.`,
      "",
      `One sender, ${MEMBERS - 1} recipients (all subscribed), ${MESSAGES} messages of 1 KiB per mode, ` +
        `${WINDOW} in flight, SQLite with synchronous=FULL. A delivery is a push received by a recipient.`,
      "",
      "| mode | messages | uploads | KiB uploaded | deliveries/s | messages/s |",
      "| ---- | -------- | ------- | ------------ | ------------ | ---------- |",
      ...rows,
      "",
      "Through the channel the sender uploads each message once and the gateway stores it once " +
        "(`payloads`), with one queue row per recipient. The machine was shared with other work while " +
        "this ran: compare the two rows, not absolute numbers across runs.",
      "",
    ].join("\n");
    console.log(section);
    if (write) await writeBenchSection(join(root, "docs", "benchmarks.md"), SECTION, section);
  } finally {
    await gw.kill();
    gw.cleanup();
  }
}

await main();
