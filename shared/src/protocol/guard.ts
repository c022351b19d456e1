/**
 * Validation of untrusted Cap'n Proto bytes before any decoder reads them: the generated codec's reader
 * (wire.ts) relies on it for bounds, and capnp-es (the conformance tests' reference) would otherwise
 * allocate for a declared segment count before any bounds check (a 16-byte message declaring 2^28
 * segments aborts V8 with an uncatchable OOM). Every message is checked here first:
 *
 * 1. Segment table: count <= maxSegments, table inside the message, segment sizes sum exactly to the rest.
 * 2. Pointer walk (schema-agnostic, like Cap'n Proto C++'s bounds checks): every pointer reachable from the
 *    root must land inside its segment (far pointers and landing pads included), composite-list tags must
 *    fit, nesting is at most MAX_NESTING deep, and the words made reachable are charged against a budget
 *    proportional to the message size, so shared or overlapping targets and lists of zero-sized elements
 *    cannot amplify a small frame into a huge amount of decoding work or memory.
 */
import { ErrorCode } from "./errors.ts";
import { DecodeError } from "./decodeError.ts";
import type { FrameLimits } from "./limits.ts";

/** Deepest accepted pointer nesting (Cap'n Proto C++ uses 64 as well). */
export const MAX_NESTING = 64;

export interface SegmentTable {
  /** Byte offset of each segment inside the message. */
  readonly offsets: readonly number[];
  /** Size of each segment in words. */
  readonly words: readonly number[];
  /** Sum of all segment sizes in words. */
  readonly totalWords: number;
}

function malformed(message: string): DecodeError {
  return new DecodeError(ErrorCode.MalformedFrame, message);
}

/** Checks the segment table of an unpacked message; throws DecodeError(FrameTooLarge | MalformedFrame). */
export function parseSegmentTable(bytes: Uint8Array, limits: FrameLimits): SegmentTable {
  const length = bytes.byteLength;
  if (length > limits.maxFrameBytes) {
    throw new DecodeError(
      ErrorCode.FrameTooLarge,
      `message of ${length} bytes, limit is ${limits.maxFrameBytes}`,
    );
  }
  if (length < 16) throw malformed(`message of ${length} bytes is shorter than a segment table and root`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, length);
  const count = dv.getUint32(0, true) + 1;
  if (count > limits.maxSegments) {
    throw new DecodeError(
      ErrorCode.FrameTooLarge,
      `message declares ${count} segments, limit is ${limits.maxSegments}`,
    );
  }
  const headerBytes = (4 + 4 * count + 7) & ~7;
  if (headerBytes > length) throw malformed(`segment table of ${count} segments exceeds the message`);
  const offsets: number[] = [];
  const words: number[] = [];
  let offset = headerBytes;
  for (let i = 0; i < count; i++) {
    const size = dv.getUint32(4 + 4 * i, true);
    offsets.push(offset);
    words.push(size);
    offset += size * 8;
    if (offset > length) throw malformed("segment sizes exceed the message");
  }
  if (offset !== length) throw malformed(`segment sizes leave ${length - offset} trailing bytes`);
  if (words[0]! < 1) throw malformed("first segment has no room for the root pointer");
  return { offsets, words, totalWords: (length - headerBytes) / 8 };
}

/** Words a message may make reachable: each legitimately encoded word is reached once; 2x plus slack. */
export function traversalBudgetWords(table: SegmentTable): number {
  return table.totalWords * 2 + 64;
}

const BITS_PER_ELEMENT = [0, 1, 8, 16, 32, 64, 64] as const;

/**
 * Walks every pointer reachable from the root and checks bounds, far pointers, composite-list tags, nesting
 * and the traversal budget. Throws DecodeError(MalformedFrame).
 */
export function validatePointers(bytes: Uint8Array, table: SegmentTable): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { offsets, words } = table;
  const segmentCount = offsets.length;
  let budget = traversalBudgetWords(table);
  // Work stack of (segment, word index of a pointer, depth) triples.
  const stack: number[] = [0, 0, 0];
  while (stack.length > 0) {
    const depth = stack.pop()!;
    const word = stack.pop()!;
    const segment = stack.pop()!;
    const at = offsets[segment]! + word * 8;
    let lo = dv.getUint32(at, true);
    let hi = dv.getUint32(at + 4, true);
    if (lo === 0 && hi === 0) continue;
    if (depth > MAX_NESTING) throw malformed(`pointers nested deeper than ${MAX_NESTING}`);
    let kind = lo & 3;
    if (kind === 3) continue; // capability pointer: no content in this message
    let targetSegment = segment;
    let target: number; // word index of the content (composite lists: of the tag)
    if (kind === 2) {
      const padSegment = hi;
      const pad = lo >>> 3;
      const double = (lo & 4) !== 0;
      if (padSegment >= segmentCount) throw malformed(`far pointer to missing segment ${padSegment}`);
      const padWords = double ? 2 : 1;
      if (pad + padWords > words[padSegment]!) throw malformed("far pointer landing pad out of bounds");
      budget -= padWords;
      const padAt = offsets[padSegment]! + pad * 8;
      const padLo = dv.getUint32(padAt, true);
      const padHi = dv.getUint32(padAt + 4, true);
      if (double) {
        if ((padLo & 7) !== 2) throw malformed("double-far landing pad is not a single far pointer");
        if (padHi >= segmentCount) throw malformed(`far pointer to missing segment ${padHi}`);
        targetSegment = padHi;
        target = padLo >>> 3;
        lo = dv.getUint32(padAt + 8, true);
        hi = dv.getUint32(padAt + 12, true);
        kind = lo & 3;
        if (kind > 1) throw malformed("double-far tag is not a struct or list pointer");
      } else {
        lo = padLo;
        hi = padHi;
        kind = lo & 3;
        if (kind === 2) throw malformed("far pointer lands on another far pointer");
        if (kind === 3) continue;
        targetSegment = padSegment;
        target = pad + 1 + (lo >> 2);
      }
    } else {
      target = word + 1 + (lo >> 2);
    }
    const limit = words[targetSegment]!;
    if (target < 0) throw malformed("pointer before the start of its segment");
    if (kind === 0) {
      const dataWords = hi & 0xffff;
      const pointerWords = hi >>> 16;
      if (target + dataWords + pointerWords > limit) throw malformed("struct out of bounds");
      budget -= dataWords + pointerWords;
      if (budget < 0) throw malformed("traversal limit exceeded");
      for (let p = 0; p < pointerWords; p++) stack.push(targetSegment, target + dataWords + p, depth + 1);
      continue;
    }
    const elementSize = hi & 7;
    const count = hi >>> 3;
    if (elementSize === 7) {
      // `count` is the word count of the elements; the tag word precedes them.
      if (target + 1 + count > limit) throw malformed("composite list out of bounds");
      const tagAt = offsets[targetSegment]! + target * 8;
      const tagLo = dv.getUint32(tagAt, true);
      const tagHi = dv.getUint32(tagAt + 4, true);
      if ((tagLo & 3) !== 0) throw malformed("composite list tag is not a struct tag");
      const elements = tagLo >>> 2;
      const dataWords = tagHi & 0xffff;
      const pointerWords = tagHi >>> 16;
      const perElement = dataWords + pointerWords;
      if (elements * perElement > count) throw malformed("composite list elements exceed the list");
      // Zero-sized elements still cost a word each, as in Cap'n Proto C++.
      budget -= 1 + Math.max(count, elements);
      if (budget < 0) throw malformed("traversal limit exceeded");
      for (let e = 0; e < elements; e++) {
        const base = target + 1 + e * perElement + dataWords;
        for (let p = 0; p < pointerWords; p++) stack.push(targetSegment, base + p, depth + 1);
      }
      continue;
    }
    const listWords = Math.ceil((count * BITS_PER_ELEMENT[elementSize]!) / 64);
    if (target + listWords > limit) throw malformed("list out of bounds");
    budget -= elementSize === 0 ? Math.max(listWords, count) : listWords;
    if (budget < 0) throw malformed("traversal limit exceeded");
    if (elementSize === 6) {
      for (let e = 0; e < count; e++) stack.push(targetSegment, target + e, depth + 1);
    }
  }
}
