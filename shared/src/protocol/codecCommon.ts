/**
 * What the generated codec (generated/codec.ts) calls besides wire.ts: range-checked integers for the
 * encoders, size estimates, and the guarded decode entry point every decoder goes through.
 */
import { ErrorCode, QpqError } from "./errors.ts";
import { DecodeError } from "./decodeError.ts";
import { parseSegmentTable, validatePointers } from "./guard.ts";
import { resolveFrameLimits, type FrameLimits } from "./limits.ts";
import { WireReader, type WireBuilder } from "./wire.ts";

export function invalid(message: string): QpqError {
  return new QpqError(ErrorCode.InvalidArgument, message);
}

function checkInteger(value: number, max: number, kind: string, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw invalid(`${name} is not a ${kind}: ${value}`);
  return value;
}

export const u8 = (value: number, name: string): number => checkInteger(value, 0xff, "UInt8", name);
export const u16 = (value: number, name: string): number => checkInteger(value, 0xffff, "UInt16", name);
export const u32 = (value: number, name: string): number => checkInteger(value, 0xffff_ffff, "UInt32", name);

/** UInt64 travels as a JS number: 2^53 messages per recipient is enough, and larger values are refused. */
export function u64(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw invalid(`${name} is not a safe UInt64: ${value}`);
  return value;
}

/** Upper bound of the bytes a Text needs: UTF-8 is at most 3 bytes per UTF-16 unit, plus the NUL. */
export function measureText(text: string): number {
  return text.length === 0 ? 0 : (text.length * 3 + 1 + 7) & ~7;
}

/** A List(Data) at pointer `ptr`; an empty list stays a null pointer, as Cap'n Proto writers do. */
export function setDataList(b: WireBuilder, ptr: number, items: Uint8Array[]): void {
  if (items.length === 0) return;
  const list = b.initPointerList(ptr, items.length);
  items.forEach((item, i) => b.setData(list + i * 8, item));
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
