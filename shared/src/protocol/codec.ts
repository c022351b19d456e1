/**
 * Conversion between the plain TypeScript frames and unpacked Cap'n Proto bytes for schemas/node.capnp.
 * All of it is generated (scripts/gen-codec.mjs writes generated/codec.ts): types, layout and straight-line
 * encoders and decoders over wire.ts. Encoders return the message without the length prefix (framing is
 * frame.ts). Decoders validate the bytes first (guard.ts), copy every Data field out (results never alias
 * the input), turn UInt64 into numbers (refusing values above Number.MAX_SAFE_INTEGER) and throw only
 * DecodeError, which carries the request id once it could be read.
 *
 * Why not capnp-es at runtime: it wraps every List/Data/Text in a Proxy and allocates several Pointer
 * objects per field access (an enqueue encode+decode cost ~55-70 us here); it also writes into the message
 * while reading. It remains the independent implementation conformance.test.ts checks us against.
 */
export {
  decodeClientFrame,
  decodeServerFrame,
  encodeClientFrame,
  encodeServerFrame,
} from "./generated/codec.ts";
