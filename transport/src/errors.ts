/**
 * Error codes of HTTP/3 (RFC 9114 §8.1), QPACK (RFC 9204 §6), HTTP datagrams (RFC 9297) and
 * WebTransport over HTTP/3 (draft-ietf-webtrans-http3), plus the typed error our parsers return.
 */
export const H3 = {
  NO_ERROR: 0x100,
  GENERAL_PROTOCOL_ERROR: 0x101,
  INTERNAL_ERROR: 0x102,
  STREAM_CREATION_ERROR: 0x103,
  CLOSED_CRITICAL_STREAM: 0x104,
  FRAME_UNEXPECTED: 0x105,
  FRAME_ERROR: 0x106,
  EXCESSIVE_LOAD: 0x107,
  ID_ERROR: 0x108,
  SETTINGS_ERROR: 0x109,
  MISSING_SETTINGS: 0x10a,
  REQUEST_REJECTED: 0x10b,
  REQUEST_CANCELLED: 0x10c,
  REQUEST_INCOMPLETE: 0x10d,
  MESSAGE_ERROR: 0x10e,
  CONNECT_ERROR: 0x10f,
  VERSION_FALLBACK: 0x110,
  QPACK_DECOMPRESSION_FAILED: 0x200,
  QPACK_ENCODER_STREAM_ERROR: 0x201,
  QPACK_DECODER_STREAM_ERROR: 0x202,
  DATAGRAM_ERROR: 0x33,
  WT_BUFFERED_STREAM_REJECTED: 0x3994bd84,
  WT_SESSION_GONE: 0x170d7b68,
} as const;

/** A protocol violation found while parsing; `code` is what we send in the stream or connection error. */
export class H3Error extends Error {
  constructor(
    readonly code: number,
    message: string,
    /** True when only the stream is affected (H3_MESSAGE_ERROR and the like), not the connection. */
    readonly streamOnly = false,
  ) {
    super(message);
    this.name = "H3Error";
  }
}

// WebTransport application error codes (32 bits) are carried in a reserved window of HTTP/3 codes that
// skips the GREASE values 0x1f * N + 0x21 (draft-ietf-webtrans-http3 §4.4).
const WT_FIRST = 0x52e4a40fa8db;
const WT_LAST = 0x52e5ac983162;

export function wtCodeToHttp(code: number): number {
  const n = Math.min(Math.max(0, Math.trunc(code)), 0xffffffff);
  return WT_FIRST + n + Math.floor(n / 0x1e);
}

/** Null for codes outside the WebTransport window or on a GREASE value. */
export function httpCodeToWt(code: number): number | null {
  if (code < WT_FIRST || code > WT_LAST) return null;
  if ((code - 0x21) % 0x1f === 0) return null;
  const shifted = code - WT_FIRST;
  return shifted - Math.floor(shifted / 0x1f);
}

/** What stream readers and writers reject with, shaped like the browser's WebTransportError. */
export class WebTransportError extends Error {
  constructor(
    message: string,
    readonly source: "stream" | "session",
    readonly streamErrorCode: number | null = null,
  ) {
    super(message);
    this.name = "WebTransportError";
  }
}
