/**
 * Child process for sqliteCrash.test.ts: enqueues batches into a SqliteStore (synchronous "full") and
 * prints "<recipient> <seq>" for every envelope only after its enqueue resolved, until killed or done.
 * Usage: node --import tsx sqliteCrashChild.ts <dbPath> <maxBatches> <batchSize>
 */
import { writeSync } from "node:fs";
import { SqliteStore } from "./sqliteStore.ts";
import { CRASH_RECIPIENTS, crashPayload, crashRecipient } from "./sqliteCrashShared.ts";

const [path, maxBatchesArg = "10000", batchSizeArg = "10"] = process.argv.slice(2);
if (path === undefined) throw new Error("usage: sqliteCrashChild.ts <dbPath> [maxBatches] [batchSize]");
const maxBatches = Number(maxBatchesArg);
const batchSize = Number(batchSizeArg);

const store = SqliteStore.open({ path, synchronous: "full" });
// This process is the only writer, so it can predict each seq and put it into the payload.
const next: number[] = [];
for (let r = 0; r < CRASH_RECIPIENTS; r++) next.push((await store.headSeq(crashRecipient(r))) + 1);

let n = 0;
for (let b = 0; b < maxBatches; b++) {
  const batch = Array.from({ length: batchSize }, () => {
    const r = n++ % CRASH_RECIPIENTS;
    const seq = next[r]!;
    next[r] = seq + 1;
    return { r, seq };
  });
  const seqs = await store.enqueue(
    batch.map(({ r, seq }) => ({
      recipientKey: crashRecipient(r),
      channelId: new Uint8Array(0),
      payload: crashPayload(r, seq),
      enqueuedAtMs: Date.now(),
    })),
  );
  batch.forEach(({ seq }, i) => {
    if (seqs[i] !== seq) throw new Error(`expected seq ${seq}, store assigned ${seqs[i]}`);
  });
  // Synchronous write: a line reaches the pipe only after its enqueue resolved, never before.
  writeSync(1, batch.map(({ r, seq }) => `${r} ${seq}\n`).join(""));
}
await store.close();
