/**
 * Hostile-peer finding: 48 MB of 3-byte GOAWAY frames cost the gateway 29 s of CPU, because every
 * pushed chunk was appended to the whole backlog (a copy of it) and only 1024 frames were parsed per
 * push, so the backlog grew. These tests hold the readers to linear work and bounded buffers, counted
 * in bytes copied and bytes held (never in time).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ByteQueue } from "./byteQueue.ts";
import { ControlReader, type ControlHost } from "./controlStreams.ts";
import {
  CapsuleReader,
  encodeCapsule,
  encodeFrame,
  encodeSettings,
  FrameReader,
  FrameType,
} from "./h3frames.ts";
import { encodeVarints } from "./varint.ts";

const goaway = encodeFrame(FrameType.GOAWAY, encodeVarints(0)); // 3 bytes

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function host(): ControlHost & { errors: string[] } {
  const errors: string[] = [];
  return {
    role: "server",
    isGone: false,
    errors,
    connectionError: (_code, reason) => errors.push(reason),
    onPeerSettings: () => {},
  };
}

describe("HTTP/3 readers do linear work with bounded buffers", () => {
  it("the control stream parses every frame of a push, however many it holds", () => {
    const reader = new ControlReader(host());
    const frames = new FrameReaderProbe(reader);
    reader.push(
      concat([encodeSettings(new Map([[0x01, 0]])), ...Array.from({ length: 50_000 }, () => goaway)]),
    );
    // Nothing left behind to be copied again with the next chunk.
    expect(frames.buffered()).toBe(0);
  });

  it("copies no more than it receives when frames arrive split across tiny chunks", () => {
    const reader = new FrameReader(16 * 1024);
    const stream = concat(Array.from({ length: 20_000 }, () => goaway));
    let parsed = 0;
    // One byte at a time, the worst case for a reader that appends each chunk to its backlog.
    for (let i = 0; i < stream.length; i++) {
      reader.push(stream.subarray(i, i + 1));
      for (let r = reader.next(); r; r = reader.next()) {
        expect(r.ok).toBe(true);
        parsed++;
      }
      expect(reader.bufferedBytes).toBeLessThan(3);
    }
    expect(parsed).toBe(20_000);
    // Each frame's header is assembled from its pieces once, and its payload copied once.
    expect(reader.copiedBytes).toBeLessThanOrEqual(stream.length * 2);
  });

  it("holds at most one unfinished frame after parsing, for any chunking (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }),
        (sizes, cuts) => {
          const stream = concat(sizes.map((n) => encodeFrame(FrameType.HEADERS, new Uint8Array(n))));
          const reader = new FrameReader(16 * 1024);
          let at = 0;
          let frames = 0;
          for (let i = 0; at < stream.length; i++) {
            const cut = cuts[i % cuts.length]!;
            reader.push(stream.subarray(at, at + cut));
            at += cut;
            for (let r = reader.next(); r; r = reader.next()) frames++;
            expect(reader.bufferedBytes).toBeLessThanOrEqual(16 + 200 + 2);
            // Linear: each byte received copied at most once, plus at most one header (16 bytes) per push.
            expect(reader.copiedBytes).toBeLessThanOrEqual(at + 16 * (i + 1));
          }
          expect(frames).toBe(sizes.length);
        },
      ),
      { seed: 0x3b3, numRuns: 200 },
    );
  });

  it("the capsule reader skips a long run of unknown capsules without growing", () => {
    const reader = new CapsuleReader(1028);
    const unknown = encodeCapsule(0x29, new Uint8Array(1));
    for (let i = 0; i < 10_000; i++) {
      reader.push(unknown);
      expect(reader.next()).toBeNull();
    }
    expect(reader.bufferedBytes).toBe(0);
  });

  it("a ByteQueue returns the bytes it was given, in order, for any chunking", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 30 }),
        fc.nat(25),
        (chunks, step) => {
          const q = new ByteQueue();
          for (const c of chunks) q.push(c);
          const all = concat(chunks);
          const out: Uint8Array[] = [];
          while (q.length > 0) {
            const n = Math.max(1, step % (q.length + 1));
            expect(q.peek(n)).toEqual(all.subarray(all.length - q.length, all.length - q.length + n));
            out.push(step % 2 === 0 ? q.take(n) : Uint8Array.from(q.takeView(n)));
          }
          expect(concat(out)).toEqual(all);
        },
      ),
      { seed: 0xb17e, numRuns: 300 },
    );
  });
});

/** Reads ControlReader's private FrameReader: how much it still holds is the quantity under test. */
class FrameReaderProbe {
  constructor(private readonly reader: ControlReader) {}
  buffered(): number {
    return (this.reader as unknown as { frames: FrameReader }).frames.bufferedBytes;
  }
}
