/**
 * HTTP/3 frames (RFC 9114 §7), SETTINGS, and the capsules WebTransport puts on its CONNECT stream
 * (RFC 9297 §3). Readers are incremental because QUIC delivers stream bytes in arbitrary pieces, and
 * they return errors as values so a hostile peer can never make them throw into the event loop.
 */
import { H3, H3Error } from "./errors.ts";
import { ByteQueue } from "./byteQueue.ts";
import { encodeVarint, readVarint, varintLength, writeVarint } from "./varint.ts";

export const FrameType = {
  DATA: 0x00,
  HEADERS: 0x01,
  CANCEL_PUSH: 0x03,
  SETTINGS: 0x04,
  PUSH_PROMISE: 0x05,
  GOAWAY: 0x07,
  MAX_PUSH_ID: 0x0d,
  /** First "frame" type of a WebTransport bidirectional stream, followed by the session id. */
  WT_STREAM: 0x41,
} as const;

/** HTTP/2 frame types that HTTP/3 reserves; receiving one is H3_FRAME_UNEXPECTED (RFC 9114 §7.2.8). */
const HTTP2_ONLY_FRAMES = new Set([0x02, 0x06, 0x08, 0x09]);

export const StreamType = {
  CONTROL: 0x00,
  PUSH: 0x01,
  QPACK_ENCODER: 0x02,
  QPACK_DECODER: 0x03,
  WT_UNI: 0x54,
} as const;

export const Setting = {
  QPACK_MAX_TABLE_CAPACITY: 0x01,
  MAX_FIELD_SECTION_SIZE: 0x06,
  QPACK_BLOCKED_STREAMS: 0x07,
  ENABLE_CONNECT_PROTOCOL: 0x08,
  H3_DATAGRAM: 0x33,
  /** draft-ietf-webtrans-http3-02, still what older Chromium looks for. */
  ENABLE_WEBTRANSPORT_DRAFT02: 0x2b603742,
  /** draft-07 and later until draft-13 renamed it. */
  WEBTRANSPORT_MAX_SESSIONS_DRAFT07: 0xc671706a,
} as const;

/** HTTP/2 setting ids forbidden in HTTP/3 (RFC 9114 §7.2.4.1). */
const HTTP2_ONLY_SETTINGS = new Set([0x02, 0x03, 0x04, 0x05]);

export const CapsuleType = {
  DATAGRAM: 0x00,
  CLOSE_WEBTRANSPORT_SESSION: 0x2843,
  DRAIN_WEBTRANSPORT_SESSION: 0x78ae,
} as const;

export interface H3Frame {
  type: number;
  /** For DATA frames this may be a piece of the payload: DATA is streamed, never buffered whole. */
  payload: Uint8Array;
}

export type ReadResult<T> = { ok: true; value: T } | { ok: false; error: H3Error } | null;

const EMPTY = new Uint8Array(0);

/** A frame or capsule header: a type and a length, each a varint of at most 8 bytes. */
const MAX_HEADER_BYTES = 16;

/**
 * Splits a stream into frames. Known non-DATA frames are buffered up to `maxPayload`; unknown (and
 * GREASE) frame types are skipped without buffering, as RFC 9114 §9 requires.
 */
export class FrameReader {
  private readonly queue = new ByteQueue();
  private dataLeft = 0; // bytes of the current DATA payload still to deliver
  private skipLeft = 0; // bytes of an unknown frame still to discard

  constructor(private readonly maxPayload: number) {}

  push(data: Uint8Array): void {
    this.queue.push(data);
  }

  /** Bytes received but not yet returned, e.g. after the caller stops reading frames. */
  takeRest(): Uint8Array {
    return this.queue.takeAll();
  }

  /** Bytes held: at most one frame header and one buffered frame once next() has returned null. */
  get bufferedBytes(): number {
    return this.queue.length;
  }

  /** Bytes copied so far; linear in what was received (see ByteQueue). */
  get copiedBytes(): number {
    return this.queue.copied;
  }

  get idle(): boolean {
    return this.queue.length === 0 && this.dataLeft === 0 && this.skipLeft === 0;
  }

  next(): ReadResult<H3Frame> {
    const q = this.queue;
    for (;;) {
      if (this.skipLeft > 0) {
        const n = Math.min(this.skipLeft, q.length);
        q.skip(n);
        this.skipLeft -= n;
        if (this.skipLeft > 0) return null;
      }
      if (this.dataLeft > 0) {
        if (q.length === 0) return null;
        const payload = q.takeView(this.dataLeft);
        this.dataLeft -= payload.length;
        return { ok: true, value: { type: FrameType.DATA, payload } };
      }
      const header = q.peek(MAX_HEADER_BYTES);
      const type = readVarint(header, 0);
      if (!type) return null;
      const len = readVarint(header, type.next);
      if (!len) return null;
      if (HTTP2_ONLY_FRAMES.has(type.value)) {
        return { ok: false, error: new H3Error(H3.FRAME_UNEXPECTED, `HTTP/2 frame type ${type.value}`) };
      }
      if (type.value === FrameType.DATA) {
        q.skip(len.next);
        this.dataLeft = len.value;
        if (len.value === 0) return { ok: true, value: { type: FrameType.DATA, payload: EMPTY } };
        continue;
      }
      if (!KNOWN_FRAMES.has(type.value)) {
        q.skip(len.next);
        this.skipLeft = len.value;
        continue;
      }
      if (len.value > this.maxPayload) {
        return { ok: false, error: new H3Error(H3.EXCESSIVE_LOAD, `frame of ${len.value} bytes too large`) };
      }
      if (q.length - len.next < len.value) return null;
      q.skip(len.next);
      return { ok: true, value: { type: type.value, payload: q.take(len.value) } };
    }
  }
}

const KNOWN_FRAMES = new Set<number>([
  FrameType.HEADERS,
  FrameType.CANCEL_PUSH,
  FrameType.SETTINGS,
  FrameType.PUSH_PROMISE,
  FrameType.GOAWAY,
  FrameType.MAX_PUSH_ID,
]);

export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(varintLength(type) + varintLength(payload.length) + payload.length);
  let off = writeVarint(out, 0, type);
  off = writeVarint(out, off, payload.length);
  out.set(payload, off);
  return out;
}

export function encodeSettings(settings: ReadonlyMap<number, number>): Uint8Array {
  const parts: number[] = [];
  for (const [id, value] of settings) parts.push(id, value);
  let len = 0;
  for (const v of parts) len += varintLength(v);
  const payload = new Uint8Array(len);
  let off = 0;
  for (const v of parts) off = writeVarint(payload, off, v);
  return encodeFrame(FrameType.SETTINGS, payload);
}

export function parseSettings(
  payload: Uint8Array,
): { ok: true; value: Map<number, number> } | { ok: false; error: H3Error } {
  const settings = new Map<number, number>();
  let off = 0;
  while (off < payload.length) {
    const id = readVarint(payload, off);
    const value = id && readVarint(payload, id.next);
    if (!id || !value) return { ok: false, error: new H3Error(H3.FRAME_ERROR, "truncated SETTINGS") };
    if (settings.has(id.value) || HTTP2_ONLY_SETTINGS.has(id.value)) {
      return { ok: false, error: new H3Error(H3.SETTINGS_ERROR, `bad setting ${id.value}`) };
    }
    settings.set(id.value, value.value);
    off = value.next;
  }
  return { ok: true, value: settings };
}

/** A single varint payload (GOAWAY, MAX_PUSH_ID, CANCEL_PUSH). */
export function parseVarintPayload(payload: Uint8Array): number | null {
  const v = readVarint(payload, 0);
  return v && v.next === payload.length ? v.value : null;
}

export interface Capsule {
  type: number;
  value: Uint8Array;
}

/** Splits the CONNECT stream's DATA bytes into capsules; unknown capsule types are skipped unbuffered. */
export class CapsuleReader {
  private readonly queue = new ByteQueue();
  private skipLeft = 0;

  constructor(private readonly maxCapsule: number) {}

  push(data: Uint8Array): void {
    this.queue.push(data);
  }

  get bufferedBytes(): number {
    return this.queue.length;
  }

  get idle(): boolean {
    return this.queue.length === 0 && this.skipLeft === 0;
  }

  next(): ReadResult<Capsule> {
    const q = this.queue;
    for (;;) {
      if (this.skipLeft > 0) {
        const n = Math.min(this.skipLeft, q.length);
        q.skip(n);
        this.skipLeft -= n;
        if (this.skipLeft > 0) return null;
      }
      const header = q.peek(MAX_HEADER_BYTES);
      const type = readVarint(header, 0);
      if (!type) return null;
      const len = readVarint(header, type.next);
      if (!len) return null;
      if (
        type.value !== CapsuleType.CLOSE_WEBTRANSPORT_SESSION &&
        type.value !== CapsuleType.DRAIN_WEBTRANSPORT_SESSION
      ) {
        q.skip(len.next);
        this.skipLeft = len.value;
        continue;
      }
      if (len.value > this.maxCapsule) {
        return { ok: false, error: new H3Error(H3.MESSAGE_ERROR, "capsule too large", true) };
      }
      if (q.length - len.next < len.value) return null;
      q.skip(len.next);
      return { ok: true, value: { type: type.value, value: q.take(len.value) } };
    }
  }
}

const MAX_REASON_BYTES = 1024;

/** The reason is cut at a character boundary to the 1024 bytes the draft allows. */
export function encodeCloseCapsule(code: number, reason: string): Uint8Array {
  let bytes = new TextEncoder().encode(reason);
  if (bytes.length > MAX_REASON_BYTES) {
    let cut = MAX_REASON_BYTES;
    while (cut > 0 && ((bytes[cut] as number) & 0xc0) === 0x80) cut--;
    bytes = bytes.subarray(0, cut);
  }
  const value = new Uint8Array(4 + bytes.length);
  new DataView(value.buffer).setUint32(0, code >>> 0);
  value.set(bytes, 4);
  return encodeCapsule(CapsuleType.CLOSE_WEBTRANSPORT_SESSION, value);
}

export function encodeCapsule(type: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(varintLength(type) + varintLength(value.length) + value.length);
  out.set(value, writeVarint(out, writeVarint(out, 0, type), value.length));
  return out;
}

export function parseCloseCapsule(value: Uint8Array): { code: number; reason: string } | null {
  if (value.length < 4 || value.length > 4 + MAX_REASON_BYTES) return null;
  const code = new DataView(value.buffer, value.byteOffset, value.length).getUint32(0);
  return { code, reason: new TextDecoder().decode(value.subarray(4)) };
}

export { encodeVarint };
