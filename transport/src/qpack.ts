/**
 * QPACK (RFC 9204) with a zero-capacity dynamic table: we advertise QPACK_MAX_TABLE_CAPACITY=0 and
 * QPACK_BLOCKED_STREAMS=0, so a field section may only use the static table and literals. That keeps
 * the decoder stateless and removes the whole class of table-state attacks.
 */
import { H3, H3Error } from "./errors.ts";
import { huffmanDecode, HuffmanError } from "./huffman.ts";

export type FieldLine = readonly [name: string, value: string];

// RFC 9204 Appendix A; empty value = name-only entry.
const STATIC_TABLE: ReadonlyArray<FieldLine> = [
  [":authority", ""],
  [":path", "/"],
  ["age", "0"],
  ["content-disposition", ""],
  ["content-length", "0"],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["referer", ""],
  ["set-cookie", ""],
  [":method", "CONNECT"],
  [":method", "DELETE"],
  [":method", "GET"],
  [":method", "HEAD"],
  [":method", "OPTIONS"],
  [":method", "POST"],
  [":method", "PUT"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "103"],
  [":status", "200"],
  [":status", "304"],
  [":status", "404"],
  [":status", "503"],
  ["accept", "*/*"],
  ["accept", "application/dns-message"],
  ["accept-encoding", "gzip, deflate, br"],
  ["accept-ranges", "bytes"],
  ["access-control-allow-headers", "cache-control"],
  ["access-control-allow-headers", "content-type"],
  ["access-control-allow-origin", "*"],
  ["cache-control", "max-age=0"],
  ["cache-control", "max-age=2592000"],
  ["cache-control", "max-age=604800"],
  ["cache-control", "no-cache"],
  ["cache-control", "no-store"],
  ["cache-control", "public, max-age=31536000"],
  ["content-encoding", "br"],
  ["content-encoding", "gzip"],
  ["content-type", "application/dns-message"],
  ["content-type", "application/javascript"],
  ["content-type", "application/json"],
  ["content-type", "application/x-www-form-urlencoded"],
  ["content-type", "image/gif"],
  ["content-type", "image/jpeg"],
  ["content-type", "image/png"],
  ["content-type", "text/css"],
  ["content-type", "text/html; charset=utf-8"],
  ["content-type", "text/plain"],
  ["content-type", "text/plain;charset=utf-8"],
  ["range", "bytes=0-"],
  ["strict-transport-security", "max-age=31536000"],
  ["strict-transport-security", "max-age=31536000; includesubdomains"],
  ["strict-transport-security", "max-age=31536000; includesubdomains; preload"],
  ["vary", "accept-encoding"],
  ["vary", "origin"],
  ["x-content-type-options", "nosniff"],
  ["x-xss-protection", "1; mode=block"],
  [":status", "100"],
  [":status", "204"],
  [":status", "206"],
  [":status", "302"],
  [":status", "400"],
  [":status", "403"],
  [":status", "421"],
  [":status", "425"],
  [":status", "500"],
  ["accept-language", ""],
  ["access-control-allow-credentials", "FALSE"],
  ["access-control-allow-credentials", "TRUE"],
  ["access-control-allow-headers", "*"],
  ["access-control-allow-methods", "get"],
  ["access-control-allow-methods", "get, post, options"],
  ["access-control-allow-methods", "options"],
  ["access-control-expose-headers", "content-length"],
  ["access-control-request-headers", "content-type"],
  ["access-control-request-method", "get"],
  ["access-control-request-method", "post"],
  ["alt-svc", "clear"],
  ["authorization", ""],
  ["content-security-policy", "script-src 'none'; object-src 'none'; base-uri 'none'"],
  ["early-data", "1"],
  ["expect-ct", ""],
  ["forwarded", ""],
  ["if-range", ""],
  ["origin", ""],
  ["purpose", "prefetch"],
  ["server", ""],
  ["timing-allow-origin", "*"],
  ["upgrade-insecure-requests", "1"],
  ["user-agent", ""],
  ["x-forwarded-for", ""],
  ["x-frame-options", "deny"],
  ["x-frame-options", "sameorigin"],
];

const exactIndex = new Map<string, number>();
const nameIndex = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  exactIndex.set(`${name}\0${value}`, i);
  if (!nameIndex.has(name)) nameIndex.set(name, i);
});

function fail(message: string): never {
  throw new H3Error(H3.QPACK_DECOMPRESSION_FAILED, message);
}

/** Prefixed integer (RFC 7541 §5.1). Bounded to 2^32 because no legitimate value here is larger. */
function readInt(buf: Uint8Array, pos: { off: number }, prefixBits: number): number {
  const first = buf[pos.off++];
  if (first === undefined) fail("truncated integer");
  const mask = (1 << prefixBits) - 1;
  let value = first & mask;
  if (value < mask) return value;
  let shift = 0;
  for (;;) {
    const b = buf[pos.off++];
    if (b === undefined) fail("truncated integer");
    value += (b & 0x7f) * 2 ** shift;
    if (value > 0xffffffff) fail("integer too large");
    if ((b & 0x80) === 0) return value;
    shift += 7;
  }
}

function readString(buf: Uint8Array, pos: { off: number }, prefixBits: number, maxLen: number): string {
  const first = buf[pos.off];
  if (first === undefined) fail("truncated string");
  const huffman = (first & (1 << prefixBits)) !== 0;
  const len = readInt(buf, pos, prefixBits);
  if (len > buf.length - pos.off) fail("string overruns field section");
  let bytes = buf.subarray(pos.off, pos.off + len);
  pos.off += len;
  if (huffman) {
    try {
      bytes = huffmanDecode(bytes, maxLen);
    } catch (err) {
      if (err instanceof HuffmanError) fail(err.message);
      throw err;
    }
  }
  if (bytes.length > maxLen) fail("field too large");
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
}

function staticEntry(index: number): FieldLine {
  const entry = STATIC_TABLE[index];
  if (entry === undefined) fail(`static index ${index} out of range`);
  return entry;
}

/**
 * Decodes one encoded field section (a HEADERS frame payload). `maxSize` bounds the decoded size as
 * computed for SETTINGS_MAX_FIELD_SECTION_SIZE (name + value + 32 per line). Throws H3Error only.
 */
export function decodeFieldSection(buf: Uint8Array, maxSize: number): FieldLine[] {
  const pos = { off: 0 };
  if (readInt(buf, pos, 8) !== 0) fail("dynamic table reference (Required Insert Count > 0)");
  readInt(buf, pos, 7); // Delta Base: meaningless without a dynamic table
  const fields: FieldLine[] = [];
  let size = 0;
  while (pos.off < buf.length) {
    const b = buf[pos.off] as number;
    let field: FieldLine;
    if (b & 0x80) {
      if ((b & 0x40) === 0) fail("dynamic table reference");
      field = staticEntry(readInt(buf, pos, 6));
    } else if (b & 0x40) {
      if ((b & 0x10) === 0) fail("dynamic table reference");
      const name = staticEntry(readInt(buf, pos, 4))[0];
      field = [name, readString(buf, pos, 7, maxSize)];
    } else if (b & 0x20) {
      const name = readString(buf, pos, 3, maxSize);
      field = [name, readString(buf, pos, 7, maxSize)];
    } else {
      fail("post-base (dynamic table) reference");
    }
    size += field[0].length + field[1].length + 32;
    if (size > maxSize) throw new H3Error(H3.EXCESSIVE_LOAD, "field section too large", true);
    fields.push(field);
  }
  return fields;
}

function pushInt(out: number[], flags: number, prefixBits: number, value: number): void {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) {
    out.push(flags | value);
    return;
  }
  out.push(flags | mask);
  let rest = value - mask;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

function pushString(out: number[], flags: number, prefixBits: number, s: string): void {
  const bytes = Buffer.from(s, "latin1");
  pushInt(out, flags, prefixBits, bytes.length);
  for (const byte of bytes) out.push(byte);
}

/** Encodes a field section with static references where possible and raw (non-Huffman) literals. */
export function encodeFieldSection(fields: ReadonlyArray<FieldLine>): Uint8Array {
  const out: number[] = [0, 0]; // Required Insert Count 0, Delta Base 0
  for (const [name, value] of fields) {
    const exact = exactIndex.get(`${name}\0${value}`);
    if (exact !== undefined) {
      pushInt(out, 0xc0, 6, exact);
      continue;
    }
    const byName = nameIndex.get(name);
    if (byName !== undefined) {
      pushInt(out, 0x50, 4, byName);
    } else {
      pushString(out, 0x20, 3, name);
    }
    pushString(out, 0x00, 7, value);
  }
  return Uint8Array.from(out);
}
