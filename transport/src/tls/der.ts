/**
 * Just enough DER (X.690) to write an X.509 certificate. Hand-written instead of adding @peculiar/x509
 * (and its asn1/reflect-metadata dependencies) to the gateway: one certificate shape, ~100 lines,
 * signed with node:crypto, and every byte of it is checked by tests through node's X509Certificate.
 */

function lengthBytes(len: number): number[] {
  if (len < 0x80) return [len];
  const out: number[] = [];
  for (let n = len; n > 0; n = Math.floor(n / 256)) out.unshift(n & 0xff);
  return [0x80 | out.length, ...out];
}

export function tlv(tag: number, content: Uint8Array): Uint8Array {
  const head = [tag, ...lengthBytes(content.length)];
  const out = new Uint8Array(head.length + content.length);
  out.set(head, 0);
  out.set(content, head.length);
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export const sequence = (...items: Uint8Array[]): Uint8Array => tlv(0x30, concat(items));
export const set = (...items: Uint8Array[]): Uint8Array => tlv(0x31, concat(items));
export const octetString = (bytes: Uint8Array): Uint8Array => tlv(0x04, bytes);
export const utf8String = (s: string): Uint8Array => tlv(0x0c, new TextEncoder().encode(s));
export const booleanTrue = (): Uint8Array => tlv(0x01, Uint8Array.of(0xff));
/** [n] EXPLICIT: a constructed context-specific wrapper. */
export const explicit = (n: number, inner: Uint8Array): Uint8Array => tlv(0xa0 | n, inner);
/** [n] IMPLICIT on a primitive type (SAN entries). */
export const implicitPrimitive = (n: number, bytes: Uint8Array): Uint8Array => tlv(0x80 | n, bytes);

/** A non-negative INTEGER from big-endian magnitude bytes. */
export function unsignedInteger(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = bytes.subarray(i);
  const needsPad = ((trimmed[0] ?? 0) & 0x80) !== 0;
  return tlv(0x02, needsPad ? concat([Uint8Array.of(0), trimmed]) : trimmed);
}

export const smallInteger = (n: number): Uint8Array => unsignedInteger(Uint8Array.of(n));

export function bitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  return tlv(0x03, concat([Uint8Array.of(unusedBits), bytes]));
}

export function oid(dotted: string): Uint8Array {
  const parts = dotted.split(".").map(Number);
  const [a = 0, b = 0, ...rest] = parts;
  const out = [40 * a + b];
  for (const p of rest) {
    const group: number[] = [p & 0x7f];
    for (let n = Math.floor(p / 128); n > 0; n = Math.floor(n / 128)) group.unshift(0x80 | (n & 0x7f));
    out.push(...group);
  }
  return tlv(0x06, Uint8Array.from(out));
}

/** UTCTime up to 2049, GeneralizedTime after, as RFC 5280 §4.1.2.5 requires. */
export function time(date: Date): Uint8Array {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-:T]/g, "") + "Z";
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(0x17, new TextEncoder().encode(digits.slice(2)));
  return tlv(0x18, new TextEncoder().encode(digits));
}
