/**
 * How many bytes envelopes take in a ServerFrame, computed without encoding. A fetch page and a push
 * must fit the peer's frame limit: a client refuses a larger frame, and that failure kills its RPC
 * stream, so one oversized page would break every later sync of that user. The figures are upper
 * bounds (checked against the codec in frameBudget.test.ts); being a few bytes generous per envelope
 * costs nothing, being short by one byte costs the stream.
 */

/** Channel ids are random 16-byte values (services/channels.ts creates them). */
export const CHANNEL_ID_BYTES = 16;

/**
 * What one envelope adds beyond its payload and channel id: its list element (two data words for seq
 * and enqueuedAtMs, two pointers) and up to 7 bytes of padding for each of its two Data fields.
 */
export const ENVELOPE_OVERHEAD_BYTES = 48;

/**
 * Everything in a fetch response or push frame besides its envelopes: segment table, root pointer,
 * the frame, response and result structs with their unions, the list pointer and tag word. The real
 * figure is well under this; the margin keeps a future field from silently eating the headroom.
 */
export const FRAME_OVERHEAD_BYTES = 256;

/** The budget one envelope uses in a frame. */
export function envelopeBytes(channelIdBytes: number, payloadBytes: number): number {
  return ENVELOPE_OVERHEAD_BYTES + channelIdBytes + payloadBytes;
}

/** Bytes available to the envelopes of one frame under the frame limit. */
export function envelopeBudget(maxFrameBytes: number): number {
  return maxFrameBytes - FRAME_OVERHEAD_BYTES;
}

/**
 * The largest payload that still fits one frame as a single envelope. A payload above it could be
 * stored but never delivered, so enqueues refuse it and the configuration may not allow it.
 */
export function maxDeliverablePayload(maxFrameBytes: number): number {
  return envelopeBudget(maxFrameBytes) - envelopeBytes(CHANNEL_ID_BYTES, 0);
}
