/**
 * A second, independent codec for the conformance tests: it converts our plain frames to and from
 * capnp-es's generated classes (generated/node.ts) by walking the layout table, so every byte is laid
 * out by capnp-es's own code, not by ours. Where the two agree on every sample, in both directions, the
 * generated codec reads and writes what any Cap'n Proto implementation does. Tests only: capnp-es is
 * far too slow for the hot path (codec.ts says why).
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- a reflective walk over capnp-es objects */
import * as $ from "capnp-es";
import * as S from "../generated/node.ts";
import { enumValues, layout } from "../generated/codec.ts";
import { DecodeError } from "../decodeError.ts";
import { ErrorCode } from "../errors.ts";
import { parseSegmentTable, validatePointers } from "../guard.ts";
import { resolveFrameLimits, type FrameLimits } from "../limits.ts";
import type { ClientFrame, ServerFrame } from "../messages.ts";

type LayoutName = keyof typeof layout;
type FieldType =
  | { readonly kind: "void" | "bool" | "uint8" | "uint16" | "uint32" | "uint64" | "text" | "data" }
  | { readonly kind: "list"; readonly element: FieldType }
  | { readonly kind: "enum" | "struct" | "group"; readonly name: string };
interface FieldRow {
  readonly name: string;
  readonly type: FieldType;
  readonly discriminant?: number;
}
interface StructRow {
  readonly fields: readonly FieldRow[];
  readonly members: readonly FieldRow[];
}

const table = layout as unknown as Record<string, StructRow>;
const cap = (name: string) => name[0]!.toUpperCase() + name.slice(1);

function rowOf(name: string): StructRow {
  const row = table[name];
  if (!row) throw new Error(`no layout for ${name}`);
  return row;
}

/**
 * capnp-es charges 8 "bytes" per Pointer object it creates while reading; decoding our frames creates a
 * small, bounded number per word of message (measured in guard.test.ts), so 16x the size plus slack never
 * trips on legitimate frames.
 */
export function capnpTraversalLimit(messageBytes: number): number {
  return messageBytes * 16 + 64 * 1024;
}

/**
 * Validates untrusted message bytes (segment table, then pointers: capnp-es alone aborts the process on
 * some hostile segment tables) and opens them with capnp-es. The bytes are copied once (capnp-es writes
 * into its buffers while reading), so the caller's buffer is neither retained nor modified.
 */
export function openMessage(bytes: Uint8Array, limits: FrameLimits): $.Message {
  const table = parseSegmentTable(bytes, limits);
  validatePointers(bytes, table);
  let message: $.Message;
  try {
    if (table.offsets.length === 1) {
      const start = bytes.byteOffset + table.offsets[0]!;
      const segment = bytes.buffer.slice(start, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      message = new $.Message(segment, false, true);
    } else {
      const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      message = new $.Message(copy, false, false);
    }
  } catch (err) {
    throw new DecodeError(ErrorCode.MalformedFrame, `capnp-es rejected the message: ${String(err)}`);
  }
  message._capnp.traversalLimit = capnpTraversalLimit(bytes.byteLength);
  return message;
}

// ---------------------------------------------------------------------------------------------------
// Plain value -> capnp-es

/** capnp-es copies Data inside lists wrongly past 448 bytes; write the pointer by hand instead. */
function initDataAt(p: $.Pointer, bytes: Uint8Array): void {
  const content = p.segment.allocate(bytes.byteLength);
  const res = $.utils.initPointer(content.segment, content.byteOffset, p);
  $.utils.setListPointer(res.offsetWords, $.ListElementSize.BYTE, bytes.byteLength, res.pointer);
  new Uint8Array(content.segment.buffer, content.byteOffset, bytes.byteLength).set(bytes);
}

function setField(obj: any, field: FieldRow, value: any): void {
  const { name, type } = field;
  switch (type.kind) {
    case "void":
      obj[name] = true;
      return;
    case "bool":
    case "uint8":
    case "uint16":
    case "uint32":
      obj[name] = value;
      return;
    case "uint64":
      obj[name] = BigInt(value);
      return;
    case "text":
      if (value.length > 0) obj[name] = value;
      return;
    case "data":
      if (value.byteLength > 0) obj[`_init${cap(name)}`](value.byteLength).copyBuffer(value);
      return;
    case "enum": {
      const values = (enumValues as Record<string, readonly string[]>)[type.name]!;
      obj[name] = values.indexOf(value);
      return;
    }
    case "struct":
      if (value !== undefined) writeStruct(type.name, obj[`_init${cap(name)}`](), value);
      return;
    case "group":
      writeStruct(type.name, obj[name], value);
      return;
    case "list": {
      if (value.length === 0) return;
      const list = obj[`_init${cap(name)}`](value.length);
      const element = type.element;
      value.forEach((item: any, i: number) => {
        if (element.kind === "data") {
          if (item.byteLength > 0) initDataAt(list.get(i), item);
        } else if (element.kind === "struct") {
          writeStruct(element.name, list.get(i), item);
        } else {
          throw new Error(`List(${element.kind}) is not in the schema`);
        }
      });
      return;
    }
  }
}

function writeStruct(name: string, obj: any, value: any): void {
  const row = rowOf(name);
  for (const field of row.fields) setField(obj, field, value[field.name]);
  if (row.members.length === 0) return;
  const member = row.members.find((m) => m.name === value.type);
  if (!member) throw new Error(`${name}: unknown member ${String(value.type)}`);
  setField(obj, member, value[member.name]);
}

function encodeRoot(name: LayoutName, ctor: $.StructCtor<any>, value: unknown): Uint8Array {
  const message = new $.Message();
  writeStruct(name, message.initRoot(ctor), value);
  return new Uint8Array(message.toArrayBuffer());
}

// ---------------------------------------------------------------------------------------------------
// capnp-es -> plain value

function getField(obj: any, field: FieldRow): unknown {
  const { name, type } = field;
  switch (type.kind) {
    case "bool":
    case "uint8":
    case "uint16":
    case "uint32":
    case "text":
      return obj[name];
    case "uint64":
      return Number(obj[name] as bigint);
    case "data":
      return obj[`_has${cap(name)}`]() ? obj[name].toUint8Array().slice() : new Uint8Array(0);
    case "enum":
      return (enumValues as Record<string, readonly string[]>)[type.name]![obj[name] as number];
    case "struct":
      // Inside a union the member is selected, so a null pointer reads as the default struct.
      if (field.discriminant === undefined && !obj[`_has${cap(name)}`]()) return undefined;
      return readStruct(type.name, obj[name]);
    case "group":
      return readStruct(type.name, obj[name]);
    case "list": {
      const list = obj[name];
      const out: unknown[] = [];
      for (let i = 0; i < list.length; i++) {
        const item = list.get(i);
        out.push(
          type.element.kind === "data"
            ? item.toUint8Array().slice()
            : readStruct((type.element as { name: string }).name, item),
        );
      }
      return out;
    }
    default:
      throw new Error(`cannot read ${type.kind}`);
  }
}

function readStruct(name: string, obj: any): any {
  const row = rowOf(name);
  const out: Record<string, unknown> = {};
  for (const field of row.fields) out[field.name] = getField(obj, field);
  if (row.members.length === 0) return out;
  const which = obj.which() as number;
  const member = row.members.find((m) => m.discriminant === which);
  if (!member) throw new Error(`${name}: unknown member ${which}`);
  out.type = member.name;
  if (member.type.kind !== "void") out[member.name] = getField(obj, member);
  return out;
}

function decodeRoot(
  bytes: Uint8Array,
  limits: Partial<FrameLimits> | undefined,
  name: LayoutName,
  ctor: $.StructCtor<any>,
): any {
  // The guard first: capnp-es itself aborts the process on some hostile segment tables.
  const message = openMessage(bytes, resolveFrameLimits(limits));
  try {
    return readStruct(name, message.getRoot(ctor));
  } catch (error) {
    if (error instanceof DecodeError) throw error;
    throw new DecodeError(
      ErrorCode.MalformedFrame,
      `capnp-es: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

export const refEncodeClientFrame = (frame: ClientFrame): Uint8Array =>
  encodeRoot("ClientFrame", S.ClientFrame, frame);
export const refEncodeServerFrame = (frame: ServerFrame): Uint8Array =>
  encodeRoot("ServerFrame", S.ServerFrame, frame);
export const refDecodeClientFrame = (bytes: Uint8Array, limits?: Partial<FrameLimits>): ClientFrame =>
  decodeRoot(bytes, limits, "ClientFrame", S.ClientFrame);
export const refDecodeServerFrame = (bytes: Uint8Array, limits?: Partial<FrameLimits>): ServerFrame =>
  decodeRoot(bytes, limits, "ServerFrame", S.ServerFrame);
