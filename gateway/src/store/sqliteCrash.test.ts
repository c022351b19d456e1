/**
 * Crash durability: a child process enqueues with synchronous "full" and reports each resolved
 * (acknowledged) seq; we SIGKILL it mid-stream and check every reported envelope is in the database.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { CRASH_RECIPIENTS, crashPayload, crashRecipient } from "./sqliteCrashShared.ts";
import { SqliteStore } from "./sqliteStore.ts";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../../..");
const root = mkdtempSync(join(tmpdir(), "qpq-crash-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs the child until it has reported at least `threshold` seqs, then SIGKILLs it. */
async function runAndKill(path: string, threshold: number): Promise<{ r: number; seq: number }[]> {
  // node --import tsx rather than node_modules/.bin/tsx: the tsx CLI runs the script in a grandchild
  // process, which a SIGKILL of the CLI would not reach.
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(here, "sqliteCrashChild.ts"), path, "100000", "7"],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
  );
  const acked: { r: number; seq: number }[] = [];
  let stderr = "";
  let pending = "";
  let killed = false;
  const take = (lines: string[]) => {
    for (const line of lines.filter((l) => l !== "")) {
      const [r, seq] = line.split(" ").map(Number);
      acked.push({ r: r!, seq: seq! });
    }
  };
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    const lines = (pending + d).split("\n");
    pending = lines.pop() ?? "";
    take(lines);
    if (!killed && acked.length >= threshold) {
      killed = child.kill("SIGKILL");
    }
  });
  // "close" fires after the process exited and its stdout was fully read.
  const signal = await new Promise<NodeJS.Signals | null>((done) =>
    child.on("close", (_code, sig) => done(sig)),
  );
  if (!killed) throw new Error(`child exited before the kill (${child.exitCode}): ${stderr}`);
  expect(signal).toBe("SIGKILL");
  // A line cut short by the kill was never fully reported: ignore it.
  return acked;
}

it("every acknowledged envelope survives SIGKILL", async () => {
  const path = join(root, "crash.sqlite");
  const firstRun = await runAndKill(path, 300);
  // A second run after the crash continues the seqs (recovery from the hot WAL) and is killed again.
  const secondRun = await runAndKill(path, 300);
  const acked = [...firstRun, ...secondRun];
  expect(acked.length).toBeGreaterThanOrEqual(600);

  const store = SqliteStore.open({ path, synchronous: "full" });
  try {
    for (let r = 0; r < CRASH_RECIPIENTS; r++) {
      const key = crashRecipient(r);
      const stored = new Map((await store.fetch(key, 0, 1_000_000)).map((e) => [e.seq, e.payload]));
      const mine = acked.filter((a) => a.r === r).map((a) => a.seq);
      expect(mine.length).toBeGreaterThan(0);
      // Seqs continue across the crash without reuse.
      expect(new Set(mine).size).toBe(mine.length);
      for (const seq of mine) {
        const payload = stored.get(seq);
        expect(payload, `recipient ${r} seq ${seq}`).toBeDefined();
        expect(Buffer.from(payload!).equals(crashPayload(r, seq))).toBe(true);
      }
      expect(await store.headSeq(key)).toBeGreaterThanOrEqual(Math.max(...mine));
    }
  } finally {
    await store.close();
  }
});
