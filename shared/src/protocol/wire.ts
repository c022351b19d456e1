/**
 * Minimal Cap'n Proto wire-format builder and reader under the generated codec (generated/codec.ts;
 * unpacked encoding, standard segment table; see https://capnproto.org/encoding.html). Field offsets are
 * the compiler's, emitted by scripts/gen-codec.mjs; codec.test.ts checks the result against
 * capnp-es, an independent implementation, in both directions.
 *
 * The builder writes single-segment messages with one bump allocation per object. The reader works on
 * bytes that passed guard.ts (segment table and every pointer checked), resolves near, far and double-far
 * pointers, reads missing data-section fields as 0 (structs written by older peers) and copies Data out.
 */
import { ErrorCode, QpqError } from "./errors.ts";
import { DecodeError } from "./decodeError.ts";
import type { SegmentTable } from "./guard.ts";

// ---------------------------------------------------------------------------------------------------
// Builder

const LIST_BYTE = 2;
const LIST_POINTER = 6;
const LIST_COMPOSITE = 7;

const textEncoder = new TextEncoder();

/**
 * Builds one single-segment message. Offsets are absolute byte offsets into the output (segment table
 * included), so they stay valid when the buffer grows.
 */
export class WireBuilder {
  private buf: Uint8Array;
  private dv: DataView;
  /** Bytes used so far: 8 for the segment table, then the segment. */
  private end = 8;

  constructor(capacityHint: number) {
    this.buf = new Uint8Array(Math.max(64, (capacityHint + 15) & ~7));
    this.dv = new DataView(this.buf.buffer);
  }

  /** Allocates `bytes` (rounded up to words), zero-filled; returns the absolute offset. */
  alloc(bytes: number): number {
    const at = this.end;
    const next = at + ((bytes + 7) & ~7);
    if (next > this.buf.byteLength) {
      const grown = new Uint8Array(Math.max(next, this.buf.byteLength * 2));
      grown.set(this.buf.subarray(0, at));
      this.buf = grown;
      this.dv = new DataView(grown.buffer);
    }
    this.end = next;
    return at;
  }

  /** Allocates the root struct; returns the offset of its data section (pointers follow the data). */
  initRoot(dataWords: number, pointerCount: number): number {
    const rootPointer = this.alloc(8);
    return this.initStruct(rootPointer, dataWords, pointerCount);
  }

  /** Allocates a struct and points the pointer at `ptr` to it; returns the offset of its data section. */
  initStruct(ptr: number, dataWords: number, pointerCount: number): number {
    const words = dataWords + pointerCount;
    const at = this.alloc(words * 8);
    if (words === 0) {
      this.dv.setUint32(ptr, 0xffff_fffc, true); // offset -1: an empty struct, distinct from null
    } else {
      this.dv.setUint32(ptr, ((at - ptr - 8) / 8) << 2, true);
    }
    this.dv.setUint32(ptr + 4, dataWords | (pointerCount << 16), true);
    return at;
  }

  private listPointer(ptr: number, target: number, elementSize: number, count: number): void {
    this.dv.setUint32(ptr, (((target - ptr - 8) / 8) << 2) | 1, true);
    this.dv.setUint32(ptr + 4, elementSize | (count << 3), true);
  }

  /** Writes a Data value; an empty one stays a null pointer (reads back as empty). */
  setData(ptr: number, bytes: Uint8Array): void {
    const n = bytes.byteLength;
    if (n === 0) return;
    if (n >= 0x2000_0000)
      throw new QpqError(ErrorCode.PayloadTooLarge, `Data of ${n} bytes exceeds the Cap'n Proto list limit`);
    const at = this.alloc(n);
    this.buf.set(bytes, at);
    this.listPointer(ptr, at, LIST_BYTE, n);
  }

  /** Writes a Text value (UTF-8 plus NUL); the empty string stays a null pointer. */
  setText(ptr: number, text: string): void {
    if (text.length === 0) return;
    const at = this.alloc(text.length * 3 + 1);
    const { written } = textEncoder.encodeInto(text, this.buf.subarray(at, at + text.length * 3));
    // Give back what UTF-8 did not need: this was the last allocation, and encodeInto wrote nothing past it.
    this.end = at + ((written + 1 + 7) & ~7);
    this.listPointer(ptr, at, LIST_BYTE, written + 1);
  }

  /** Allocates a List(Data)/List(Text)/List(AnyPointer); returns the offset of the first element pointer. */
  initPointerList(ptr: number, count: number): number {
    const at = this.alloc(count * 8);
    this.listPointer(ptr, at, LIST_POINTER, count);
    return at;
  }

  /** Allocates a List(struct); returns the offset of the first element's data section. */
  initStructList(ptr: number, count: number, dataWords: number, pointerCount: number): number {
    const words = count * (dataWords + pointerCount);
    const tag = this.alloc(8 + words * 8);
    this.listPointer(ptr, tag, LIST_COMPOSITE, words);
    this.dv.setUint32(tag, count << 2, true);
    this.dv.setUint32(tag + 4, dataWords | (pointerCount << 16), true);
    return tag + 8;
  }

  setU8(at: number, value: number): void {
    this.dv.setUint8(at, value);
  }

  setU16(at: number, value: number): void {
    this.dv.setUint16(at, value, true);
  }

  setU32(at: number, value: number): void {
    this.dv.setUint32(at, value, true);
  }

  /** `value` must be a non-negative safe integer (the codec checks). */
  setU64(at: number, value: number): void {
    this.dv.setUint32(at, value % 0x1_0000_0000, true);
    this.dv.setUint32(at + 4, Math.floor(value / 0x1_0000_0000), true);
  }

  setBit(at: number, bit: number, value: boolean): void {
    const i = at + (bit >>> 3);
    if (value) this.buf[i] = (this.buf[i] ?? 0) | (1 << (bit & 7));
  }

  /**
   * The finished message: segment table (one segment) followed by the segment. A view of exactly the
   * message; its buffer may be somewhat larger (the capacity hint is an upper estimate).
   */
  finish(): Uint8Array {
    this.dv.setUint32(0, 0, true);
    this.dv.setUint32(4, (this.end - 8) / 8, true);
    return this.end === this.buf.byteLength ? this.buf : this.buf.subarray(0, this.end);
  }
}

// ---------------------------------------------------------------------------------------------------
// Reader

/** A struct inside the message: absolute offsets of its data and pointer sections. */
export interface StructRef {
  readonly data: number;
  readonly dataBytes: number;
  readonly ptrs: number;
  readonly ptrCount: number;
}

/** What a null struct pointer reads as: every field at its default (0, false, empty). */
export const EMPTY_STRUCT: StructRef = Object.freeze({ data: 0, dataBytes: 0, ptrs: 0, ptrCount: 0 });

const EMPTY_BYTES = new Uint8Array(0);
const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

interface Target {
  /** 0 struct, 1 list. */
  kind: number;
  /** Absolute offset of the content (composite lists: of the tag word). */
  at: number;
  /** Second word of the (landing pad's) pointer: struct sizes or list element size and count. */
  hi: number;
}

/**
 * Reads fields of a guard-validated message. Every failure is a DecodeError(MalformedFrame) carrying
 * `requestId` once the codec has set it; `budget` bounds the bytes copied out and list elements visited.
 */
export class WireReader {
  private readonly dv: DataView;
  private readonly bytes: Uint8Array;
  private readonly offsets: readonly number[];
  requestId: number | undefined = undefined;
  private budget: number;

  constructor(bytes: Uint8Array, table: SegmentTable) {
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offsets = table.offsets;
    // A legitimate message stores every Data value and list element once, so what is copied out or
    // visited can never exceed the message itself; aliased pointers could, and are refused.
    this.budget = bytes.byteLength;
  }

  fail(message: string, code: ErrorCode = ErrorCode.MalformedFrame): DecodeError {
    return new DecodeError(code, message, this.requestId);
  }

  private charge(amount: number): void {
    this.budget -= amount;
    if (this.budget < 0) throw this.fail("message expands beyond its own size (aliased pointers)");
  }

  /**
   * Resolves the pointer at absolute offset `ptr`; undefined for null. Capability pointers are refused:
   * this protocol has no interfaces, so one where a struct or list belongs is a malformed message.
   */
  private resolve(ptr: number): Target | undefined {
    const dv = this.dv;
    const lo = dv.getUint32(ptr, true);
    const hi = dv.getUint32(ptr + 4, true);
    if (lo === 0 && hi === 0) return undefined;
    const kind = lo & 3;
    if (kind < 2) return { kind, at: ptr + 8 + (lo >> 2) * 8, hi };
    if (kind === 3) throw this.fail("unexpected capability pointer");
    const padSegment = this.offsets[hi];
    if (padSegment === undefined) throw this.fail("far pointer to a missing segment");
    const pad = padSegment + (lo >>> 3) * 8;
    const padLo = dv.getUint32(pad, true);
    const padHi = dv.getUint32(pad + 4, true);
    if ((lo & 4) === 0) {
      if ((padLo & 3) > 1) throw this.fail("far pointer lands on a non-struct, non-list pointer");
      return { kind: padLo & 3, at: pad + 8 + (padLo >> 2) * 8, hi: padHi };
    }
    const contentSegment = this.offsets[padHi];
    if (contentSegment === undefined || (padLo & 7) !== 2) throw this.fail("bad double-far landing pad");
    const tagLo = dv.getUint32(pad + 8, true);
    if ((tagLo & 3) > 1) throw this.fail("bad double-far tag");
    return { kind: tagLo & 3, at: contentSegment + (padLo >>> 3) * 8, hi: dv.getUint32(pad + 12, true) };
  }

  private structAt(ptr: number): StructRef {
    const t = this.resolve(ptr);
    if (t === undefined) return EMPTY_STRUCT;
    if (t.kind !== 0) throw this.fail("expected a struct pointer");
    const dataBytes = (t.hi & 0xffff) * 8;
    return { data: t.at, dataBytes, ptrs: t.at + dataBytes, ptrCount: t.hi >>> 16 };
  }

  root(): StructRef {
    return this.structAt(this.offsets[0]!);
  }

  /** The struct behind pointer `index` of `s` (EMPTY_STRUCT when null or absent). */
  struct(s: StructRef, index: number): StructRef {
    return index < s.ptrCount ? this.structAt(s.ptrs + index * 8) : EMPTY_STRUCT;
  }

  /** True when pointer `index` of `s` is null or beyond the struct (an older peer's smaller struct). */
  isNull(s: StructRef, index: number): boolean {
    if (index >= s.ptrCount) return true;
    const ptr = s.ptrs + index * 8;
    return this.dv.getUint32(ptr, true) === 0 && this.dv.getUint32(ptr + 4, true) === 0;
  }

  u8(s: StructRef, offset: number): number {
    return offset + 1 <= s.dataBytes ? this.dv.getUint8(s.data + offset) : 0;
  }

  u16(s: StructRef, offset: number): number {
    return offset + 2 <= s.dataBytes ? this.dv.getUint16(s.data + offset, true) : 0;
  }

  u32(s: StructRef, offset: number): number {
    return offset + 4 <= s.dataBytes ? this.dv.getUint32(s.data + offset, true) : 0;
  }

  /** A UInt64 as a number; InvalidArgument above Number.MAX_SAFE_INTEGER. */
  u64(s: StructRef, offset: number, name: string): number {
    if (offset + 8 > s.dataBytes) return 0;
    const lo = this.dv.getUint32(s.data + offset, true);
    const hi = this.dv.getUint32(s.data + offset + 4, true);
    if (hi > 0x1f_ffff) {
      throw this.fail(`${name} exceeds Number.MAX_SAFE_INTEGER`, ErrorCode.InvalidArgument);
    }
    return hi * 0x1_0000_0000 + lo;
  }

  bit(s: StructRef, bit: number): boolean {
    const byte = bit >>> 3;
    return byte < s.dataBytes && (this.dv.getUint8(s.data + byte) & (1 << (bit & 7))) !== 0;
  }

  /** The byte-list content behind pointer `ptr` as a view (no copy). */
  private byteList(ptr: number): Uint8Array {
    const t = this.resolve(ptr);
    if (t === undefined) return EMPTY_BYTES;
    if (t.kind !== 1 || (t.hi & 7) !== LIST_BYTE) throw this.fail("expected a byte list (Data/Text)");
    const length = t.hi >>> 3;
    if (t.at + length > this.bytes.byteLength) throw this.fail("byte list out of bounds");
    return this.bytes.subarray(t.at, t.at + length);
  }

  /** Data field `index` of `s`, copied out of the message. */
  data(s: StructRef, index: number): Uint8Array {
    if (index >= s.ptrCount) return EMPTY_BYTES.slice();
    const view = this.byteList(s.ptrs + index * 8);
    this.charge(view.byteLength);
    return view.slice();
  }

  /** Text field `index` of `s`: NUL-terminated, strictly valid UTF-8. */
  text(s: StructRef, index: number): string {
    if (index >= s.ptrCount) return "";
    const ptr = s.ptrs + index * 8;
    if (this.dv.getUint32(ptr, true) === 0 && this.dv.getUint32(ptr + 4, true) === 0) return "";
    const view = this.byteList(ptr);
    if (view[view.byteLength - 1] !== 0) throw this.fail("Text is not NUL-terminated");
    this.charge(view.byteLength);
    try {
      return textDecoder.decode(view.subarray(0, view.byteLength - 1));
    } catch {
      throw this.fail("Text is not valid UTF-8");
    }
  }

  /** List(Data) field `index` of `s`, each element copied out. */
  dataList(s: StructRef, index: number): Uint8Array[] {
    if (index >= s.ptrCount) return [];
    const t = this.resolve(s.ptrs + index * 8);
    if (t === undefined) return [];
    if (t.kind !== 1 || (t.hi & 7) !== LIST_POINTER) throw this.fail("expected a list of pointers");
    const count = t.hi >>> 3;
    this.charge(count * 8);
    const out: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const view = this.byteList(t.at + i * 8);
      this.charge(view.byteLength);
      out.push(view.slice());
    }
    return out;
  }

  /** List(struct) field `index` of `s`. */
  structList(s: StructRef, index: number): StructRef[] {
    if (index >= s.ptrCount) return [];
    const t = this.resolve(s.ptrs + index * 8);
    if (t === undefined) return [];
    if (t.kind !== 1 || (t.hi & 7) !== LIST_COMPOSITE) throw this.fail("expected a list of structs");
    const tagLo = this.dv.getUint32(t.at, true);
    const tagHi = this.dv.getUint32(t.at + 4, true);
    const count = tagLo >>> 2;
    const dataBytes = (tagHi & 0xffff) * 8;
    const ptrCount = tagHi >>> 16;
    const stride = dataBytes + ptrCount * 8;
    this.charge(count * 8);
    const out: StructRef[] = [];
    for (let i = 0, at = t.at + 8; i < count; i++, at += stride) {
      out.push({ data: at, dataBytes, ptrs: at + dataBytes, ptrCount });
    }
    return out;
  }
}
