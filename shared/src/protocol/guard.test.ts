import { describe, expect, it } from "vitest";
import * as S from "./generated/node.ts";
import { decodeClientFrame, decodeServerFrame, encodeClientFrame, encodeServerFrame } from "./codec.ts";
import { DecodeError } from "./decodeError.ts";
import { ErrorCode } from "./errors.ts";
import { parseSegmentTable, validatePointers } from "./guard.ts";
import { capnpTraversalLimit, openMessage } from "./testing/referenceCodec.ts";
import { DEFAULT_FRAME_LIMITS, resolveFrameLimits } from "./limits.ts";
import type { Envelope } from "./messages.ts";
import { refDecodeClientFrame, refDecodeServerFrame } from "./testing/referenceCodec.ts";

const limits = resolveFrameLimits();

function codeOf(f: () => unknown): number {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(DecodeError);
    return (error as DecodeError).code;
  }
  throw new Error("expected a DecodeError");
}

/** Every entry point that takes untrusted message bytes must give the same typed error. */
function allCodes(bytes: Uint8Array): number[] {
  return [
    codeOf(() => decodeClientFrame(bytes)),
    codeOf(() => decodeServerFrame(bytes)),
    codeOf(() => refDecodeClientFrame(bytes)),
    codeOf(() => refDecodeServerFrame(bytes)),
    codeOf(() => openMessage(bytes, limits)),
  ];
}

/** Builds a message from words given as [lo, hi] u32 pairs, in one segment. */
function message(words: [number, number][], segmentTable?: number[]): Uint8Array {
  const table = segmentTable ?? [words.length];
  const headerBytes = (4 + 4 * table.length + 7) & ~7;
  const out = new Uint8Array(headerBytes + words.length * 8);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, table.length - 1, true);
  table.forEach((n, i) => dv.setUint32(4 + 4 * i, n, true));
  words.forEach(([lo, hi], i) => {
    dv.setUint32(headerBytes + i * 8, lo >>> 0, true);
    dv.setUint32(headerBytes + i * 8 + 4, hi >>> 0, true);
  });
  return out;
}

const structPtr = (offset: number, dataWords: number, ptrs: number): [number, number] => [
  (offset << 2) >>> 0,
  dataWords | (ptrs << 16),
];
const listPtr = (offset: number, elementSize: number, count: number): [number, number] => [
  ((offset << 2) | 1) >>> 0,
  (elementSize | (count << 3)) >>> 0,
];

describe("guard: segment table", () => {
  const valid = encodeClientFrame({
    requestId: 1,
    request: { type: "resolveUser", resolveUser: { username: "alice" } },
  });

  it("accepts a valid message", () => {
    const table = parseSegmentTable(valid, limits);
    expect(table.offsets).toEqual([8]);
    expect(table.totalWords * 8).toBe(valid.byteLength - 8);
    expect(() => validatePointers(valid, table)).not.toThrow();
  });

  it("truncated message: MalformedFrame", () => {
    for (const cut of [1, 7, 8, 9, valid.byteLength - 16]) {
      expect(allCodes(valid.subarray(0, valid.byteLength - cut))).toEqual(
        Array(5).fill(ErrorCode.MalformedFrame),
      );
    }
    expect(allCodes(new Uint8Array(0))).toEqual(Array(5).fill(ErrorCode.MalformedFrame));
  });

  it("message longer than maxFrameBytes: FrameTooLarge", () => {
    const big = new Uint8Array(DEFAULT_FRAME_LIMITS.maxFrameBytes + 8);
    new DataView(big.buffer).setUint32(4, (big.byteLength - 8) / 8, true);
    expect(allCodes(big)).toEqual(Array(5).fill(ErrorCode.FrameTooLarge));
    expect(codeOf(() => decodeClientFrame(valid, { maxFrameBytes: valid.byteLength - 8 }))).toBe(
      ErrorCode.FrameTooLarge,
    );
  });

  it("2^28 segments declared in a 16-byte message: FrameTooLarge, no allocation", () => {
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setUint32(0, 2 ** 28 - 1, true);
    expect(allCodes(bytes)).toEqual(Array(5).fill(ErrorCode.FrameTooLarge));
    new DataView(bytes.buffer).setUint32(0, 0xffff_ffff, true);
    expect(allCodes(bytes)).toEqual(Array(5).fill(ErrorCode.FrameTooLarge));
  });

  it("segment count within the limit but table beyond the message: MalformedFrame", () => {
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setUint32(0, 63, true);
    expect(allCodes(bytes)).toEqual(Array(5).fill(ErrorCode.MalformedFrame));
  });

  it("segment sizes that do not add up to the message: MalformedFrame", () => {
    const more = valid.slice();
    new DataView(more.buffer).setUint32(4, (valid.byteLength - 8) / 8 + 1, true);
    const fewer = valid.slice();
    new DataView(fewer.buffer).setUint32(4, (valid.byteLength - 8) / 8 - 1, true);
    const huge = valid.slice();
    new DataView(huge.buffer).setUint32(4, 0xffff_ffff, true);
    const trailing = new Uint8Array(valid.byteLength + 8);
    trailing.set(valid);
    for (const bytes of [more, fewer, huge, trailing]) {
      expect(allCodes(bytes)).toEqual(Array(5).fill(ErrorCode.MalformedFrame));
    }
  });

  it("empty first segment: MalformedFrame", () => {
    expect(allCodes(message([[0, 0]], [0, 1]))).toEqual(Array(5).fill(ErrorCode.MalformedFrame));
  });
});

describe("guard: pointers", () => {
  it("struct beyond its segment: MalformedFrame", () => {
    expect(allCodes(message([structPtr(0, 1, 1), [0, 0]]))).toEqual(Array(5).fill(ErrorCode.MalformedFrame));
    expect(allCodes(message([structPtr(-5, 0, 0)]))).toEqual(Array(5).fill(ErrorCode.MalformedFrame));
  });

  it("far pointer to a missing segment or pad out of bounds: MalformedFrame", () => {
    expect(allCodes(message([[2, 1]]))).toEqual(Array(5).fill(ErrorCode.MalformedFrame));
    expect(allCodes(message([[(5 << 3) | 2, 0]]))).toEqual(Array(5).fill(ErrorCode.MalformedFrame));
    // A landing pad that is itself a far pointer.
    expect(
      allCodes(
        message([
          [(1 << 3) | 2, 0],
          [2, 0],
        ]),
      ),
    ).toEqual(Array(5).fill(ErrorCode.MalformedFrame));
  });

  it("composite list whose elements exceed it: MalformedFrame", () => {
    // Root ServerFrame -> response -> fetch result -> envelopes list claiming 1000 elements of 4 words in 4 words.
    const words: [number, number][] = [
      structPtr(0, 1, 1), // 0 root -> 1
      [0, 0], // 1 ServerFrame data: which = response
      structPtr(0, 1, 1), // 2 -> Response at 3
      [0 | 0, 13 << 0], // 3 Response data: requestId 0, which 13 (fetch) in the high half
      structPtr(0, 1, 1), // 4 -> FetchResponse at 5
      [0, 0], // 5 FetchResponse data
      listPtr(0, 7, 4), // 6 -> envelopes tag at 7, 4 words
      [1000 << 2, 2 | (2 << 16)], // 7 tag: 1000 elements of (2, 2)
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
    ];
    expect(allCodes(message(words))).toEqual(Array(5).fill(ErrorCode.MalformedFrame));
  });

  it("aliased pointers (one blob referenced many times) cannot amplify the frame", () => {
    // publishKeyPackages with 256 list elements all pointing at the same 4 KiB blob: 6 KiB on the wire,
    // 1 MiB if decoded naively.
    const n = 256;
    const blobWords = 512;
    const words: [number, number][] = [
      structPtr(0, 1, 1), // 0 root -> ClientFrame at 1
      [7, 8], // 1 requestId 7, which 8 (publishKeyPackages)
      structPtr(0, 0, 2), // 2 -> PublishKeyPackagesRequest at 3
      listPtr(1, 6, n), // 3 keyPackages -> 5
      [0, 0], // 4 lastResort
    ];
    for (let i = 0; i < n; i++) words.push(listPtr(n - i - 1, 2, blobWords * 8));
    for (let i = 0; i < blobWords; i++) words.push([0x61616161, 0x61616161]);
    const bytes = message(words);
    expect(bytes.byteLength).toBeLessThan(8 * 1024);
    expect(() => validatePointers(bytes, parseSegmentTable(bytes, limits))).toThrow(DecodeError);
    expect(allCodes(bytes)).toEqual(Array(5).fill(ErrorCode.MalformedFrame));
  });

  it("pointer cycles terminate: MalformedFrame", () => {
    // Root -> struct with one pointer that points back at the struct itself.
    const words: [number, number][] = [structPtr(0, 0, 1), structPtr(-1, 0, 1)];
    expect(allCodes(message(words))).toEqual(Array(5).fill(ErrorCode.MalformedFrame));
  });

  it("zero-sized elements cannot make a huge list: MalformedFrame", () => {
    // Composite list of 2^29 zero-sized structs in 0 words, and a void list of 2^28 elements.
    const composite: [number, number][] = [structPtr(0, 0, 1), listPtr(0, 7, 0), [(2 ** 29) << 2, 0]];
    expect(allCodes(message(composite))).toEqual(Array(5).fill(ErrorCode.MalformedFrame));
    const voids: [number, number][] = [structPtr(0, 0, 1), listPtr(0, 0, 2 ** 28)];
    expect(allCodes(message(voids))).toEqual(Array(5).fill(ErrorCode.MalformedFrame));
  });

  it("nesting deeper than 64: MalformedFrame", () => {
    const words: [number, number][] = [];
    for (let i = 0; i < 100; i++) words.push(structPtr(0, 0, 1));
    words.push([0, 0]);
    expect(allCodes(message(words))).toEqual(Array(5).fill(ErrorCode.MalformedFrame));
  });

  it("capnp-es traversal limit is set and legitimate worst cases stay within it", () => {
    // Many tiny envelopes maximise capnp-es Pointer objects per byte.
    const envelopes: Envelope[] = Array.from({ length: 20_000 }, (_, i) => ({
      seq: i,
      channelId: new Uint8Array(0),
      payload: new Uint8Array(0),
      enqueuedAtMs: i,
    }));
    const bytes = encodeServerFrame({
      type: "response",
      response: { requestId: 1, result: { type: "fetch", fetch: { envelopes, more: false } } },
    });
    const m = openMessage(bytes, limits);
    const initial = m._capnp.traversalLimit;
    expect(initial).toBe(capnpTraversalLimit(bytes.byteLength));
    const list = m.getRoot(S.ServerFrame).response.result.fetch.envelopes;
    let sum = 0;
    for (let i = 0; i < list.length; i++) {
      const e = list.get(i);
      sum += Number(e.seq) + e.channelId.toUint8Array().byteLength + e.payload.toUint8Array().byteLength;
    }
    expect(sum).toBeGreaterThan(0);
    const used = initial - m._capnp.traversalLimit;
    console.log(
      `capnp-es traversal used ${used} for a ${bytes.byteLength}-byte frame (${(used / bytes.byteLength).toFixed(1)}x)`,
    );
    expect(m._capnp.traversalLimit).toBeGreaterThan(0);
    expect(refDecodeServerFrame(bytes)).toEqual(decodeServerFrame(bytes));
  });
});
