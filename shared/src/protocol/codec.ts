/**
 * Conversion between the plain TypeScript frames of messages.ts and unpacked Cap'n Proto message bytes for
 * schemas/node.capnp. Encoders return the message bytes without the length prefix (framing is frame.ts).
 * Decoders validate the bytes first (guard.ts), copy every Data field out (results never alias the input),
 * turn UInt64 into numbers (rejecting values above Number.MAX_SAFE_INTEGER) and throw only DecodeError, a
 * QpqError that carries the request id once it could be read.
 *
 * Why not capnp-es objects at runtime: capnp-es wraps every List/Data/Text in a Proxy and allocates several
 * Pointer objects per field access, which made an enqueue encode+decode cost ~55-70 us here against a
 * budget of well under 20 us; it also writes into the message while reading. This codec reads and writes
 * the wire format directly (wire.ts) with the field layout of the capnp-es generated code
 * (generated/node.ts), and codec.test.ts proves the two agree for every variant, in both directions,
 * using testing/referenceCodec.ts, which is written purely against the generated code.
 *
 * The work is split by direction: clientFrameCodec.ts and serverFrameCodec.ts, with what both share in
 * codecCommon.ts. Layout notation there: (data words, pointers); `u32@0` is a data-section byte offset,
 * `p1` a pointer index.
 */
export { decodeClientFrame, encodeClientFrame } from "./clientFrameCodec.ts";
export { decodeServerFrame, encodeServerFrame } from "./serverFrameCodec.ts";
