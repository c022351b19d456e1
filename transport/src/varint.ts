/**
 * QUIC variable-length integers (RFC 9000 §16). Values travel as JS numbers: every value we act on
 * (lengths, stream ids, error codes) fits in 2^53, and the rare larger 8-byte values (GREASE frame and
 * setting types) are only ever compared and skipped, where rounding is harmless.
 */

/** Largest value we encode; larger ones cannot be represented exactly as a number. */
export const MAX_SAFE_VARINT = Number.MAX_SAFE_INTEGER;

export function varintLength(value: number): 1 | 2 | 4 | 8 {
  if (value < 0x40) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x40000000) return 4;
  return 8;
}

/** Writes `value` at `offset` and returns the offset after it. The caller sizes `buf` via varintLength. */
export function writeVarint(buf: Uint8Array, offset: number, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint out of range: ${value}`);
  const len = varintLength(value);
  if (len === 1) {
    buf[offset] = value;
  } else if (len === 2) {
    buf[offset] = 0x40 | (value >>> 8);
    buf[offset + 1] = value & 0xff;
  } else if (len === 4) {
    buf[offset] = 0x80 | (value >>> 24);
    buf[offset + 1] = (value >>> 16) & 0xff;
    buf[offset + 2] = (value >>> 8) & 0xff;
    buf[offset + 3] = value & 0xff;
  } else {
    // Split because bitwise operators work on 32 bits only.
    const hi = Math.floor(value / 0x100000000);
    const lo = value >>> 0;
    buf[offset] = 0xc0 | (hi >>> 24);
    buf[offset + 1] = (hi >>> 16) & 0xff;
    buf[offset + 2] = (hi >>> 8) & 0xff;
    buf[offset + 3] = hi & 0xff;
    buf[offset + 4] = lo >>> 24;
    buf[offset + 5] = (lo >>> 16) & 0xff;
    buf[offset + 6] = (lo >>> 8) & 0xff;
    buf[offset + 7] = lo & 0xff;
  }
  return offset + len;
}

export function encodeVarint(value: number): Uint8Array {
  const out = new Uint8Array(varintLength(value));
  writeVarint(out, 0, value);
  return out;
}

/** Concatenates varints, the usual shape of stream preambles and small frames. */
export function encodeVarints(...values: number[]): Uint8Array {
  let total = 0;
  for (const v of values) total += varintLength(v);
  const out = new Uint8Array(total);
  let off = 0;
  for (const v of values) off = writeVarint(out, off, v);
  return out;
}

export interface VarintRead {
  value: number;
  /** Offset just after the varint. */
  next: number;
}

/** Reads a varint at `offset`; null when the buffer ends before the varint does (wait for more bytes). */
export function readVarint(buf: Uint8Array, offset: number): VarintRead | null {
  if (offset >= buf.length) return null;
  const first = buf[offset] as number;
  const len = 1 << (first >>> 6);
  if (offset + len > buf.length) return null;
  let value = first & 0x3f;
  for (let i = 1; i < len; i++) value = value * 256 + (buf[offset + i] as number);
  return { value, next: offset + len };
}
