/**
 * `npm run bench:devices`: a new device on an account with history (docs/cryptography/devices.md), on
 * the real gateway process over WebTransport. Alice and bob share CONVERSATIONS conversations of
 * MESSAGES messages each; bob's first device stays online; bob then logs in on a new device, and the
 * run measures the time from that login to the first conversation being usable (joined: it can send
 * and read), to every conversation joined, and to the whole history restored from the backup, plus
 * the backup's size per 1,000 messages. Writes its own section of docs/benchmarks.md.
 * Options: --quick (2 conversations of 20 messages), --no-write. Bounded: fixed work, then it exits.
 */
import { cpus, loadavg, type } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { MemoryClientStore, Messenger } from "@qpq/shared/client";
import { connectGateway, startGatewayProcess, type GatewayProcess } from "../src/testing/index.ts";
import { writeBenchSection } from "../../scripts/benchDoc.ts";

const SECTION = "## A new device on an account with history";
const quick = process.argv.includes("--quick");
const write = !process.argv.includes("--no-write");
const CONVERSATIONS = quick ? 2 : 10;
const MESSAGES = quick ? 20 : 200;
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const FAST = { keyStretching: "memory-constrained" as const, keyPackageStock: CONVERSATIONS + 2 };

async function account(gw: GatewayProcess, name: string, password: string): Promise<Messenger> {
  const client = await connectGateway(gw.baseUrl);
  return Messenger.register(client, name, password, { store: new MemoryClientStore(), ...FAST });
}

/** Polls a condition on the messenger's events, bounded by a deadline. */
async function until(
  m: Messenger,
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    let offs: (() => void)[] = [];
    await new Promise<void>((resolve) => {
      offs = [m.on("conversation", () => resolve()), m.on("message", () => resolve())];
      setTimeout(resolve, 50);
    });
    for (const off of offs) off();
  }
}

async function main(): Promise<void> {
  const gw = await startGatewayProcess({ env: { QPQ_RATE_LIMIT: "off", QPQ_MAX_QUEUED: "1000000" } });
  try {
    const suffix = process.pid % 10_000;
    const alice = await account(gw, `alice${suffix}`, "alice's password");
    const bobPassword = "bob's password";
    const bob = await account(gw, `bob${suffix}`, bobPassword);
    console.log(`setting up ${CONVERSATIONS} conversations × ${MESSAGES} messages…`);
    const groups: string[] = [];
    for (let c = 0; c < CONVERSATIONS; c++) {
      groups.push(await alice.createConversation(`conversation ${c}`, [bob.username]));
    }
    for (const group of groups) {
      for (let i = 0; i < MESSAGES; i++) await alice.send(group, `message ${i} of ${group.slice(0, 8)}`);
    }
    const total = CONVERSATIONS * MESSAGES;
    await until(
      bob,
      async () => {
        let n = 0;
        for (const g of groups) n += (await bob.messages(g)).length;
        return n >= total;
      },
      600_000,
      "bob's first device receives everything",
    );
    await bob.flush();

    const client = await connectGateway(gw.baseUrl);
    const started = performance.now();
    const device = await Messenger.login(client, bob.username, bobPassword, {
      store: new MemoryClientStore(),
      ...FAST,
      deviceName: "bench laptop",
    });
    const loggedIn = performance.now();
    const history = device.historyRestored!.then((result) => ({ result, at: performance.now() }));
    let firstUsable = 0;
    await until(
      device,
      async () => {
        const joined = (await device.conversations()).filter((g) => groups.includes(g.id)).length;
        if (joined > 0 && firstUsable === 0) firstUsable = performance.now();
        return joined === groups.length;
      },
      300_000,
      "the new device joins every conversation",
    );
    const allJoined = performance.now();
    const { result: restored, at: historyDone } = await history;
    let restoredMessages = 0;
    for (const g of groups) restoredMessages += (await device.messages(g)).length;

    let backupBytes = 0;
    let entries = 0;
    for (let after = 0; ;) {
      const page = await client.fetchBackup(after);
      for (const e of page.entries) {
        backupBytes += e.key.length + e.ciphertext.length;
        entries++;
        after = e.seq;
      }
      if (!page.more || page.entries.length === 0) break;
    }

    const ms = (t: number) => `${Math.round(t - started)} ms`;
    const rows = [
      `| login (OPAQUE, account bundle, device attach, KeyPackages) | ${ms(loggedIn)} |`,
      `| first conversation usable (joined by a member's commit) | ${ms(firstUsable)} |`,
      `| all ${CONVERSATIONS} conversations joined | ${ms(allJoined)} |`,
      `| full history restored (${restored.messages} of ${total} messages) | ${ms(historyDone)} |`,
    ];
    const perThousand = (backupBytes / entries) * 1000;
    const section = [
      SECTION,
      "",
      `Measured by \`npm run bench:devices\` on ${new Date().toISOString().slice(0, 10)} (${cpus().length} × ` +
        `${cpus()[0]?.model ?? "CPU"}, ${type()}, 5-minute load ${loadavg()[1]!.toFixed(1)}): the real gateway ` +
        `process (SQLite), Node clients over WebTransport on loopback. Alice and bob share ${CONVERSATIONS} ` +
        `conversations of ${MESSAGES} messages; bob's first device stays online and adds the new one.`,
      "",
      "| from `Messenger.login` on a new device to | time |",
      "| --- | --- |",
      ...rows,
      "",
      `Backup: ${entries} entries (one per message, whichever devices stored it), ${(backupBytes / 1024).toFixed(0)} KiB, ` +
        `**${(perThousand / 1024).toFixed(0)} KiB per 1,000 messages** (short texts; each entry is padded to a ` +
        `multiple of 256 bytes and sealed). The new device held ${restoredMessages} messages at the end.`,
      "",
    ].join("\n");
    console.log(section);
    if (write) await writeBenchSection(join(root, "docs", "benchmarks.md"), SECTION, section);
    for (const m of [alice, bob, device]) m.close();
    client.close();
  } finally {
    await gw.kill();
    gw.cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
