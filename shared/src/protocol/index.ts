/** Public API of the wire protocol: error registry, versions, message types, limits, framing, codec. */
export { ErrorCode, QpqError, errorCodeName, formatErrorCode, isKnownErrorCode } from "./errors.ts";
export { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from "./version.ts";
export type {
  AckRequest,
  BackupEntry,
  ClientFrame,
  CommitClaims,
  CreateChannelRequest,
  DeviceInfo,
  DeviceKeyPackage,
  EnqueueRequest,
  Envelope,
  FetchRequest,
  HelloOk,
  HelloRequest,
  HelloResponse,
  Incompatible,
  IncompatibleReason,
  Push,
  Request,
  RequestMap,
  RequestType,
  Response,
  ResponseBody,
  ResultMap,
  SealedEnqueueRequest,
  ServerFrame,
  SessionInfo,
  SubscribeRequest,
  WireError,
} from "./messages.ts";
export {
  DEFAULT_FRAME_LIMITS,
  DEFAULT_MAX_PAYLOAD_BYTES,
  resolveFrameLimits,
  type FrameLimits,
} from "./limits.ts";
export { DecodeError } from "./decodeError.ts";
export {
  FRAME_HEADER_BYTES,
  FrameDecoder,
  encodeFrame,
  encodeFrames,
  readFrames,
  type ReadFramesOptions,
} from "./frame.ts";
export { FrameWriter, type FrameWriterOptions } from "./frameWriter.ts";
export { decodeClientFrame, decodeServerFrame, encodeClientFrame, encodeServerFrame } from "./codec.ts";
export {
  MAX_NESTING,
  parseSegmentTable,
  traversalBudgetWords,
  validatePointers,
  type SegmentTable,
} from "./guard.ts";
