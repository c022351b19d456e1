/**
 * Encode+decode cost of the frames on the hot path (a 1 KiB enqueue, its push, a fetch page), for
 * the generated codec and, as a yardstick, capnp-es on the same frames. Pure CPU: runs in this
 * process, medians of several rounds so a busy core shows as spread, not as a different number.
 * `tsx gateway/bench/codecBench.ts` prints it alone; `npm run bench` includes it.
 *
 * `--baseline DIR` also times the codec of another checkout (e.g. `git worktree add DIR eb4a040`, the
 * hand-written codec before protocol 2) on the same 1 KiB enqueue and push, interleaved with ours.
 */
import {
  decodeClientFrame,
  decodeServerFrame,
  encodeClientFrame,
  encodeServerFrame,
  type ClientFrame,
  type ServerFrame,
} from "@qpq/shared/protocol";
import {
  refDecodeClientFrame,
  refDecodeServerFrame,
  refEncodeClientFrame,
  refEncodeServerFrame,
} from "@qpq/shared/protocol/reference";

export interface CodecBenchRow {
  frame: string;
  bytes: number;
  generatedOpsPerSec: number;
  capnpEsOpsPerSec: number;
}

const payload = new Uint8Array(1024).map((_, i) => (i * 31) & 0xff);
const channelId = new Uint8Array(16).fill(7);
const envelope = { seq: 123_456, channelId, payload, enqueuedAtMs: 1_764_000_000_000 };

const enqueue: ClientFrame = {
  requestId: 42,
  request: {
    type: "enqueue",
    enqueue: { channelId, payload, recipientKey: new Uint8Array(0), commit: undefined },
  },
};
const push: ServerFrame = { type: "push", push: { type: "envelope", envelope } };
const fetchPage: ServerFrame = {
  type: "response",
  response: {
    requestId: 7,
    result: { type: "fetch", fetch: { envelopes: Array.from({ length: 32 }, () => envelope), more: true } },
  },
};

/** Median operations per second over `rounds` rounds of `n` calls (after a warm-up round). */
function opsPerSecond(fn: () => void, n: number, rounds = 7): number {
  for (let i = 0; i < n; i++) fn();
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    rates.push(n / (Number(process.hrtime.bigint() - start) / 1e9));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rounds / 2)]!;
}

export function runCodecBench(quick = false): CodecBenchRow[] {
  const n = quick ? 20_000 : 200_000;
  const client = (name: string, frame: ClientFrame): CodecBenchRow => ({
    frame: name,
    bytes: encodeClientFrame(frame).byteLength,
    generatedOpsPerSec: opsPerSecond(() => decodeClientFrame(encodeClientFrame(frame)), n),
    capnpEsOpsPerSec: opsPerSecond(() => refDecodeClientFrame(refEncodeClientFrame(frame)), n / 10),
  });
  const server = (name: string, frame: ServerFrame, scale = 1): CodecBenchRow => ({
    frame: name,
    bytes: encodeServerFrame(frame).byteLength,
    generatedOpsPerSec: opsPerSecond(() => decodeServerFrame(encodeServerFrame(frame)), n / scale),
    capnpEsOpsPerSec: opsPerSecond(() => refDecodeServerFrame(refEncodeServerFrame(frame)), n / scale / 10),
  });
  return [
    client("enqueue, 1 KiB payload", enqueue),
    server("push, 1 KiB envelope", push),
    server("fetch page, 32 × 1 KiB", fetchPage, 32),
  ];
}

export function codecTable(rows: CodecBenchRow[]): string[] {
  const k = (n: number) => `${(n / 1000).toFixed(1)}k`;
  return [
    "| frame | bytes | generated codec enc+dec/s | µs each | capnp-es enc+dec/s |",
    "|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.frame} | ${r.bytes} | ${k(r.generatedOpsPerSec)} | ${(1e6 / r.generatedOpsPerSec).toFixed(2)} | ${k(r.capnpEsOpsPerSec)} |`,
    ),
  ];
}

interface AnyCodec {
  encodeClientFrame(frame: unknown): Uint8Array;
  decodeClientFrame(bytes: Uint8Array): unknown;
  encodeServerFrame(frame: unknown): Uint8Array;
  decodeServerFrame(bytes: Uint8Array): unknown;
}

/** Ours against another checkout's codec, alternating rounds so both see the same machine load. */
async function compareWithBaseline(dir: string): Promise<void> {
  const old = (await import(`${dir}/shared/src/protocol/codec.ts`)) as AnyCodec;
  // Protocol 1 spread a request's fields into the member; the push had the shape it still has.
  const oldEnqueue = {
    requestId: 42,
    request: { type: "enqueue", recipientKey: new Uint8Array(0), channelId, payload },
  };
  const pairs: [string, () => void, () => void][] = [
    [
      "enqueue, 1 KiB payload",
      () => decodeClientFrame(encodeClientFrame(enqueue)),
      () => old.decodeClientFrame(old.encodeClientFrame(oldEnqueue)),
    ],
    [
      "push, 1 KiB envelope",
      () => decodeServerFrame(encodeServerFrame(push)),
      () => old.decodeServerFrame(old.encodeServerFrame(push)),
    ],
  ];
  console.log("| frame | generated enc+dec/s | baseline enc+dec/s | ratio |");
  console.log("|---|---|---|---|");
  for (const [name, ours, theirs] of pairs) {
    const a: number[] = [];
    const b: number[] = [];
    for (let round = 0; round < 5; round++) {
      a.push(opsPerSecond(ours, 100_000, 3));
      b.push(opsPerSecond(theirs, 100_000, 3));
    }
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[2]!;
    const [ma, mb] = [median(a), median(b)];
    console.log(
      `| ${name} | ${(ma / 1000).toFixed(1)}k | ${(mb / 1000).toFixed(1)}k | ${(ma / mb).toFixed(2)} |`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const at = process.argv.indexOf("--baseline");
  if (at > 0) await compareWithBaseline(process.argv[at + 1]!);
  else for (const line of codecTable(runCodecBench(process.argv.includes("--quick")))) console.log(line);
}
