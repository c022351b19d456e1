/**
 * Pieces both frame codecs share: range-checked integers, the structs that appear in requests and
 * responses alike, and the guarded decode entry point. Layout notation as in codec.ts.
 */
import { ErrorCode, QpqError } from "./errors.ts";
import { DecodeError } from "./decodeError.ts";
import { parseSegmentTable, validatePointers } from "./guard.ts";
import { resolveFrameLimits, type FrameLimits } from "./limits.ts";
import { WireReader, type WireBuilder, type StructRef } from "./wire.ts";
import type { Envelope, SessionInfo, WireError } from "./messages.ts";

export function invalid(message: string): QpqError {
  return new QpqError(ErrorCode.InvalidArgument, message);
}

export function u16(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff)
    throw invalid(`${name} is not a UInt16: ${value}`);
  return value;
}

export function u32(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw invalid(`${name} is not a UInt32: ${value}`);
  }
  return value;
}

export function u64(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw invalid(`${name} is not a safe UInt64: ${value}`);
  return value;
}

/** Capacity hint: fixed overhead plus the variable-length fields (UTF-8 is at most 3 bytes per UTF-16 unit). */
export function sizeOf(...fields: (Uint8Array | string)[]): number {
  let n = 128;
  for (const f of fields) n += typeof f === "string" ? f.length * 3 + 8 : f.byteLength + 8;
  return n;
}

/** Error (1, 1): code u16@0, retryAfterMs u32@4, message p0. */
export function writeError(b: WireBuilder, ptr: number, e: WireError): void {
  const s = b.initStruct(ptr, 1, 1);
  b.setU16(s, u16(e.code, "error.code"));
  b.setU32(s + 4, u32(e.retryAfterMs, "error.retryAfterMs"));
  b.setText(s + 8, e.message);
}

/** SessionInfo (1, 2): expiresAtMs u64@0, username p0, identityKey p1. */
export function writeSession(b: WireBuilder, ptr: number, v: SessionInfo): void {
  const s = b.initStruct(ptr, 1, 2);
  b.setU64(s, u64(v.expiresAtMs, "expiresAtMs"));
  b.setText(s + 8, v.username);
  b.setData(s + 16, v.identityKey);
}

/** Envelope (2, 2): seq u64@0, enqueuedAtMs u64@8, channelId p0, payload p1. Writes in place. */
export function writeEnvelopeAt(b: WireBuilder, s: number, v: Envelope): void {
  b.setU64(s, u64(v.seq, "envelope.seq"));
  b.setU64(s + 8, u64(v.enqueuedAtMs, "envelope.enqueuedAtMs"));
  b.setData(s + 16, v.channelId);
  b.setData(s + 24, v.payload);
}

/** A List(Data) at pointer `ptr`; an empty list stays a null pointer, as capnp-es writes it. */
export function setDataList(b: WireBuilder, ptr: number, items: Uint8Array[]): void {
  if (items.length === 0) return;
  const list = b.initPointerList(ptr, items.length);
  items.forEach((item, i) => b.setData(list + i * 8, item));
}

export function readError(r: WireReader, s: StructRef): WireError {
  return { code: r.u16(s, 0), message: r.text(s, 0), retryAfterMs: r.u32(s, 4) };
}

export function readSession(r: WireReader, s: StructRef): SessionInfo {
  return { username: r.text(s, 0), identityKey: r.data(s, 1), expiresAtMs: r.u64(s, 0, "expiresAtMs") };
}

export function readEnvelope(r: WireReader, s: StructRef): Envelope {
  return {
    seq: r.u64(s, 0, "envelope.seq"),
    channelId: r.data(s, 0),
    payload: r.data(s, 1),
    enqueuedAtMs: r.u64(s, 8, "envelope.enqueuedAtMs"),
  };
}

/** Validates `bytes` (guard.ts) and runs `read`; anything unexpected becomes DecodeError(MalformedFrame). */
export function decodeWith<T>(
  bytes: Uint8Array,
  limits: Partial<FrameLimits> | undefined,
  read: (r: WireReader) => T,
): T {
  let reader: WireReader | undefined;
  try {
    const table = parseSegmentTable(bytes, resolveFrameLimits(limits));
    validatePointers(bytes, table);
    reader = new WireReader(bytes, table);
    return read(reader);
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new DecodeError(ErrorCode.MalformedFrame, `undecodable message: ${reason}`, reader?.requestId);
  }
}
