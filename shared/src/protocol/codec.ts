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
 * Layout notation below: (data words, pointers); `u32@0` is a data-section byte offset, `p1` a pointer index.
 */
import { ErrorCode, QpqError } from "./errors.ts";
import { DecodeError } from "./decodeError.ts";
import { parseSegmentTable, validatePointers } from "./guard.ts";
import { resolveFrameLimits, type FrameLimits } from "./limits.ts";
import { EMPTY_STRUCT, WireBuilder, WireReader, type StructRef } from "./wire.ts";
import type {
  ClientFrame,
  Envelope,
  HelloResult,
  Push,
  Request,
  RequestType,
  Response,
  ResponseBody,
  ServerFrame,
  SessionInfo,
  WireError,
} from "./messages.ts";

/** ClientFrame.request union discriminants (ClientFrame_Request_Which). */
const REQUEST_WHICH: { readonly [K in RequestType]: number } = {
  hello: 0,
  health: 1,
  registerStart: 2,
  registerFinish: 3,
  loginStart: 4,
  loginFinish: 5,
  resumeSession: 6,
  logout: 7,
  publishKeyPackages: 8,
  fetchKeyPackage: 9,
  resolveUser: 10,
  enqueue: 11,
  fetch: 12,
  ack: 13,
  subscribe: 14,
  createChannel: 15,
  createGroupChannel: 16,
  sealedEnqueue: 17,
  // 18 is a placeholder held for parallel work (schemas/node.capnp).
  publishHybridKey: 19,
  fetchHybridKey: 20,
};

/** Response.result union discriminants (Response_Result_Which). */
const RESULT_WHICH: { readonly [K in ResponseBody["type"]]: number } = {
  error: 0,
  hello: 1,
  health: 2,
  registerStart: 3,
  registerFinish: 4,
  loginStart: 5,
  loginFinish: 6,
  resumeSession: 7,
  logout: 8,
  publishKeyPackages: 9,
  fetchKeyPackage: 10,
  resolveUser: 11,
  enqueue: 12,
  fetch: 13,
  ack: 14,
  subscribe: 15,
  createChannel: 16,
  createGroupChannel: 17,
  sealedEnqueue: 18,
  // 19 is a placeholder held for parallel work (schemas/node.capnp).
  publishHybridKey: 20,
  fetchHybridKey: 21,
};

// ---------------------------------------------------------------------------------------------------
// Encoding

function invalid(message: string): QpqError {
  return new QpqError(ErrorCode.InvalidArgument, message);
}

function u16(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff)
    throw invalid(`${name} is not a UInt16: ${value}`);
  return value;
}

function u32(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw invalid(`${name} is not a UInt32: ${value}`);
  }
  return value;
}

function u64(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw invalid(`${name} is not a safe UInt64: ${value}`);
  return value;
}

/** Capacity hint: fixed overhead plus the variable-length fields (UTF-8 is at most 3 bytes per UTF-16 unit). */
function sizeOf(...fields: (Uint8Array | string)[]): number {
  let n = 128;
  for (const f of fields) n += typeof f === "string" ? f.length * 3 + 8 : f.byteLength + 8;
  return n;
}

/** Error (1, 1): code u16@0, retryAfterMs u32@4, message p0. */
function writeError(b: WireBuilder, ptr: number, e: WireError): void {
  const s = b.initStruct(ptr, 1, 1);
  b.setU16(s, u16(e.code, "error.code"));
  b.setU32(s + 4, u32(e.retryAfterMs, "error.retryAfterMs"));
  b.setText(s + 8, e.message);
}

/** SessionInfo (1, 2): expiresAtMs u64@0, username p0, identityKey p1. */
function writeSession(b: WireBuilder, ptr: number, v: SessionInfo): void {
  const s = b.initStruct(ptr, 1, 2);
  b.setU64(s, u64(v.expiresAtMs, "expiresAtMs"));
  b.setText(s + 8, v.username);
  b.setData(s + 16, v.identityKey);
}

/** Envelope (2, 2): seq u64@0, enqueuedAtMs u64@8, channelId p0, payload p1. Writes in place. */
function writeEnvelopeAt(b: WireBuilder, s: number, v: Envelope): void {
  b.setU64(s, u64(v.seq, "envelope.seq"));
  b.setU64(s + 8, u64(v.enqueuedAtMs, "envelope.enqueuedAtMs"));
  b.setData(s + 16, v.channelId);
  b.setData(s + 24, v.payload);
}

/** A List(Data) at pointer `ptr`; an empty list stays a null pointer, as capnp-es writes it. */
function setDataList(b: WireBuilder, ptr: number, items: Uint8Array[]): void {
  if (items.length === 0) return;
  const list = b.initPointerList(ptr, items.length);
  items.forEach((item, i) => b.setData(list + i * 8, item));
}

function requestSize(req: Request): number {
  switch (req.type) {
    case "hello":
      return sizeOf(req.hello.client);
    case "registerStart":
      return sizeOf(req.username, req.registrationRequest);
    case "registerFinish":
      return sizeOf(req.username, req.registrationRecord, req.identityKey);
    case "loginStart":
      return sizeOf(req.username, req.startLoginRequest);
    case "loginFinish":
      return sizeOf(req.loginId, req.finishLoginRequest);
    case "resumeSession":
      return sizeOf(req.sessionToken);
    case "publishKeyPackages":
      return sizeOf(req.lastResort, ...req.keyPackages);
    case "fetchKeyPackage":
      return sizeOf(req.identityKey);
    case "resolveUser":
      return sizeOf(req.username);
    case "enqueue":
      return sizeOf(
        req.recipientKey,
        req.channelId,
        req.payload,
        req.nextTokenHash ?? new Uint8Array(0),
        ...(req.addMembers ?? []),
        ...(req.removeMembers ?? []),
      );
    case "fetch":
    case "subscribe":
      return sizeOf(req.channelId ?? new Uint8Array(0));
    case "createChannel":
      return sizeOf(req.peerKey);
    case "createGroupChannel":
      return sizeOf(req.groupId, req.tokenHash, ...req.members);
    case "sealedEnqueue":
      return sizeOf(req.channelId, req.deliveryToken, req.payload);
    case "publishHybridKey":
      return sizeOf(req.publicKey, req.signature);
    case "fetchHybridKey":
      return sizeOf(req.identityKey);
    default:
      return sizeOf();
  }
}

/** Encodes a ClientFrame (1, 1): requestId u32@0, request discriminant u16@4, member p0. */
export function encodeClientFrame(frame: ClientFrame): Uint8Array {
  const req = frame.request;
  const which: unknown = REQUEST_WHICH[req.type];
  if (typeof which !== "number") throw invalid(`unknown request type ${String(req.type)}`);
  const b = new WireBuilder(requestSize(req));
  const root = b.initRoot(1, 1);
  b.setU32(root, u32(frame.requestId, "requestId"));
  b.setU16(root + 4, which);
  const p = root + 8;
  switch (req.type) {
    case "hello": {
      // HelloRequest (1, 1): minVersion u16@0, maxVersion u16@2, client p0.
      const s = b.initStruct(p, 1, 1);
      b.setU16(s, u16(req.hello.minVersion, "hello.minVersion"));
      b.setU16(s + 2, u16(req.hello.maxVersion, "hello.maxVersion"));
      b.setText(s + 8, req.hello.client);
      break;
    }
    case "health":
    case "logout":
      break;
    case "registerStart": {
      // RegisterStartRequest (0, 2): username p0, registrationRequest p1.
      const s = b.initStruct(p, 0, 2);
      b.setText(s, req.username);
      b.setData(s + 8, req.registrationRequest);
      break;
    }
    case "registerFinish": {
      // RegisterFinishRequest (0, 3): username p0, registrationRecord p1, identityKey p2.
      const s = b.initStruct(p, 0, 3);
      b.setText(s, req.username);
      b.setData(s + 8, req.registrationRecord);
      b.setData(s + 16, req.identityKey);
      break;
    }
    case "loginStart": {
      // LoginStartRequest (0, 2): username p0, startLoginRequest p1.
      const s = b.initStruct(p, 0, 2);
      b.setText(s, req.username);
      b.setData(s + 8, req.startLoginRequest);
      break;
    }
    case "loginFinish": {
      // LoginFinishRequest (0, 2): loginId p0, finishLoginRequest p1.
      const s = b.initStruct(p, 0, 2);
      b.setData(s, req.loginId);
      b.setData(s + 8, req.finishLoginRequest);
      break;
    }
    case "resumeSession":
      // ResumeSessionRequest (0, 1): sessionToken p0.
      b.setData(b.initStruct(p, 0, 1), req.sessionToken);
      break;
    case "publishKeyPackages": {
      // PublishKeyPackagesRequest (0, 2): keyPackages p0 List(Data), lastResort p1.
      const s = b.initStruct(p, 0, 2);
      setDataList(b, s, req.keyPackages);
      b.setData(s + 8, req.lastResort);
      break;
    }
    case "fetchKeyPackage":
      // FetchKeyPackageRequest (0, 1): identityKey p0.
      b.setData(b.initStruct(p, 0, 1), req.identityKey);
      break;
    case "resolveUser":
      // ResolveUserRequest (0, 1): username p0.
      b.setText(b.initStruct(p, 0, 1), req.username);
      break;
    case "enqueue": {
      // EnqueueRequest (0, 6): recipientKey p0, channelId p1, payload p2, addMembers p3,
      // removeMembers p4, nextTokenHash p5. A plain enqueue keeps the old (0, 3) size.
      const claims = req.addMembers?.length || req.removeMembers?.length || req.nextTokenHash?.length;
      const s = b.initStruct(p, 0, claims ? 6 : 3);
      b.setData(s, req.recipientKey);
      b.setData(s + 8, req.channelId);
      b.setData(s + 16, req.payload);
      if (claims) {
        setDataList(b, s + 24, req.addMembers ?? []);
        setDataList(b, s + 32, req.removeMembers ?? []);
        b.setData(s + 40, req.nextTokenHash ?? new Uint8Array(0));
      }
      break;
    }
    case "fetch": {
      // FetchRequest (2, 1): afterSeq u64@0, limit u32@8, channelId p0.
      const s = b.initStruct(p, 2, 1);
      b.setU64(s, u64(req.afterSeq, "fetch.afterSeq"));
      b.setU32(s + 8, u32(req.limit, "fetch.limit"));
      b.setData(s + 16, req.channelId ?? new Uint8Array(0));
      break;
    }
    case "ack":
      // AckRequest (1, 0): upToSeq u64@0.
      b.setU64(b.initStruct(p, 1, 0), u64(req.upToSeq, "ack.upToSeq"));
      break;
    case "subscribe": {
      // SubscribeRequest (1, 1): afterSeq u64@0, channelId p0.
      const s = b.initStruct(p, 1, 1);
      b.setU64(s, u64(req.afterSeq, "subscribe.afterSeq"));
      b.setData(s + 8, req.channelId ?? new Uint8Array(0));
      break;
    }
    case "createChannel":
      // CreateChannelRequest (0, 1): peerKey p0.
      b.setData(b.initStruct(p, 0, 1), req.peerKey);
      break;
    case "createGroupChannel": {
      // CreateGroupChannelRequest (1, 3): epoch u64@0, groupId p0, members p1, tokenHash p2.
      const s = b.initStruct(p, 1, 3);
      b.setU64(s, u64(req.epoch, "createGroupChannel.epoch"));
      b.setData(s + 8, req.groupId);
      setDataList(b, s + 16, req.members);
      b.setData(s + 24, req.tokenHash);
      break;
    }
    case "sealedEnqueue": {
      // SealedEnqueueRequest (0, 3): channelId p0, deliveryToken p1, payload p2.
      const s = b.initStruct(p, 0, 3);
      b.setData(s, req.channelId);
      b.setData(s + 8, req.deliveryToken);
      b.setData(s + 16, req.payload);
      break;
    }
    case "publishHybridKey": {
      // PublishHybridKeyRequest (0, 2): publicKey p0, signature p1.
      const s = b.initStruct(p, 0, 2);
      b.setData(s, req.publicKey);
      b.setData(s + 8, req.signature);
      break;
    }
    case "fetchHybridKey":
      // FetchHybridKeyRequest (0, 1): identityKey p0.
      b.setData(b.initStruct(p, 0, 1), req.identityKey);
      break;
  }
  return b.finish();
}

function bodySize(body: ResponseBody): number {
  switch (body.type) {
    case "error":
      return sizeOf(body.error.message);
    case "hello":
      return body.result.type === "ok" ? sizeOf(body.result.server) : sizeOf();
    case "health":
      return sizeOf(body.result.status);
    case "registerStart":
      return sizeOf(body.result.registrationResponse);
    case "loginStart":
      return sizeOf(body.result.loginId, body.result.loginResponse);
    case "loginFinish":
      return sizeOf(body.result.sessionToken, body.result.session.username, body.result.session.identityKey);
    case "resumeSession":
      return sizeOf(body.result.username, body.result.identityKey);
    case "fetchKeyPackage":
      return sizeOf(body.result.keyPackage);
    case "resolveUser":
      return sizeOf(body.result.identityKey);
    case "fetchHybridKey":
      return sizeOf(body.result.publicKey, body.result.signature);
    case "fetch": {
      let n = sizeOf();
      for (const e of body.result.envelopes) n += 48 + e.channelId.byteLength + e.payload.byteLength;
      return n;
    }
    default:
      return sizeOf();
  }
}

/** Encodes a ServerFrame (1, 1): discriminant u16@0 (0 response, 1 push), member p0. */
export function encodeServerFrame(frame: ServerFrame): Uint8Array {
  if (frame.type === "response") {
    const b = new WireBuilder(bodySize(frame.response.body));
    const root = b.initRoot(1, 1);
    b.setU16(root, 0);
    writeResponse(b, root + 8, frame.response);
    return b.finish();
  }
  if (frame.type === "push") {
    const push = frame.push;
    const size =
      push.type === "envelope"
        ? sizeOf(push.envelope.channelId, push.envelope.payload)
        : sizeOf(push.type === "sessionEnded" ? push.error.message : "");
    const b = new WireBuilder(size);
    const root = b.initRoot(1, 1);
    b.setU16(root, 1);
    writePush(b, root + 8, push);
    return b.finish();
  }
  throw invalid(`unknown server frame type ${String((frame as { type: unknown }).type)}`);
}

/** Response (1, 1): requestId u32@0, result discriminant u16@4, member p0. */
function writeResponse(b: WireBuilder, ptr: number, response: Response): void {
  const body = response.body;
  const which: unknown = RESULT_WHICH[body.type];
  if (typeof which !== "number") throw invalid(`unknown response type ${String(body.type)}`);
  const r = b.initStruct(ptr, 1, 1);
  b.setU32(r, u32(response.requestId, "requestId"));
  b.setU16(r + 4, which);
  const p = r + 8;
  switch (body.type) {
    case "error":
      writeError(b, p, body.error);
      break;
    case "hello":
      writeHello(b, p, body.result);
      break;
    case "health": {
      // HealthResponse (2, 1): version u16@0, uptimeMs u64@8, status p0.
      const s = b.initStruct(p, 2, 1);
      b.setU16(s, u16(body.result.version, "health.version"));
      b.setU64(s + 8, u64(body.result.uptimeMs, "health.uptimeMs"));
      b.setText(s + 16, body.result.status);
      break;
    }
    case "registerStart":
      // RegisterStartResponse (0, 1): registrationResponse p0.
      b.setData(b.initStruct(p, 0, 1), body.result.registrationResponse);
      break;
    case "registerFinish":
    case "logout":
      break;
    case "loginStart": {
      // LoginStartResponse (0, 2): loginId p0, loginResponse p1.
      const s = b.initStruct(p, 0, 2);
      b.setData(s, body.result.loginId);
      b.setData(s + 8, body.result.loginResponse);
      break;
    }
    case "loginFinish": {
      // LoginFinishResponse (0, 2): sessionToken p0, session p1.
      const s = b.initStruct(p, 0, 2);
      b.setData(s, body.result.sessionToken);
      writeSession(b, s + 8, body.result.session);
      break;
    }
    case "resumeSession":
      writeSession(b, p, body.result);
      break;
    case "publishKeyPackages":
      // PublishKeyPackagesResponse (1, 0): available u32@0.
      b.setU32(b.initStruct(p, 1, 0), u32(body.result.available, "available"));
      break;
    case "fetchKeyPackage": {
      // FetchKeyPackageResponse (1, 1): lastResort bit 0, keyPackage p0.
      const s = b.initStruct(p, 1, 1);
      b.setBit(s, 0, body.result.lastResort);
      b.setData(s + 8, body.result.keyPackage);
      break;
    }
    case "resolveUser":
      // ResolveUserResponse (0, 1): identityKey p0.
      b.setData(b.initStruct(p, 0, 1), body.result.identityKey);
      break;
    case "enqueue":
      // EnqueueResponse (1, 0): seq u64@0.
      b.setU64(b.initStruct(p, 1, 0), u64(body.result.seq, "enqueue.seq"));
      break;
    case "fetch": {
      // FetchResponse (1, 1): more bit 0, envelopes p0 List(Envelope (2, 2)).
      const s = b.initStruct(p, 1, 1);
      b.setBit(s, 0, body.result.more);
      const envelopes = body.result.envelopes;
      if (envelopes.length > 0) {
        const first = b.initStructList(s + 8, envelopes.length, 2, 2);
        envelopes.forEach((e, i) => writeEnvelopeAt(b, first + i * 32, e));
      }
      break;
    }
    case "ack":
      // AckResponse (1, 0): removed u32@0.
      b.setU32(b.initStruct(p, 1, 0), u32(body.result.removed, "ack.removed"));
      break;
    case "subscribe":
      // SubscribeResponse (1, 0): headSeq u64@0.
      b.setU64(b.initStruct(p, 1, 0), u64(body.result.headSeq, "subscribe.headSeq"));
      break;
    case "createChannel":
    case "createGroupChannel":
      // CreateChannelResponse (0, 1): channelId p0.
      b.setData(b.initStruct(p, 0, 1), body.result.channelId);
      break;
    case "sealedEnqueue":
      // SealedEnqueueResponse (1, 0): recipients u32@0.
      b.setU32(b.initStruct(p, 1, 0), u32(body.result.recipients, "sealedEnqueue.recipients"));
      break;
    case "publishHybridKey":
      break;
    case "fetchHybridKey": {
      // FetchHybridKeyResponse (0, 2): publicKey p0, signature p1.
      const s = b.initStruct(p, 0, 2);
      b.setData(s, body.result.publicKey);
      b.setData(s + 8, body.result.signature);
      break;
    }
  }
}

/** HelloResponse (1, 1): discriminant u16@0 (0 ok, 1 incompatible), member p0. */
function writeHello(b: WireBuilder, ptr: number, v: HelloResult): void {
  const s = b.initStruct(ptr, 1, 1);
  if (v.type === "ok") {
    b.setU16(s, 0);
    // HelloOk (2, 1): version u16@0, maxFrameBytes u32@4, maxPayloadBytes u32@8, server p0.
    const ok = b.initStruct(s + 8, 2, 1);
    b.setU16(ok, u16(v.version, "hello.version"));
    b.setU32(ok + 4, u32(v.maxFrameBytes, "hello.maxFrameBytes"));
    b.setU32(ok + 8, u32(v.maxPayloadBytes, "hello.maxPayloadBytes"));
    b.setText(ok + 16, v.server);
  } else if (v.type === "incompatible") {
    b.setU16(s, 1);
    // Incompatible (1, 0): reason u16@0 (0 clientTooOld, 1 serverTooOld), serverMin u16@2, serverMax u16@4.
    const inc = b.initStruct(s + 8, 1, 0);
    if (v.reason !== "clientTooOld" && v.reason !== "serverTooOld")
      throw invalid(`unknown reason ${String(v.reason)}`);
    b.setU16(inc, v.reason === "clientTooOld" ? 0 : 1);
    b.setU16(inc + 2, u16(v.serverMinVersion, "hello.serverMinVersion"));
    b.setU16(inc + 4, u16(v.serverMaxVersion, "hello.serverMaxVersion"));
  } else {
    throw invalid(`unknown hello result ${String((v as { type: unknown }).type)}`);
  }
}

/** Push (1, 1): discriminant u16@0 (0 envelope, 1 sessionEnded), member p0. */
function writePush(b: WireBuilder, ptr: number, push: Push): void {
  const s = b.initStruct(ptr, 1, 1);
  if (push.type === "envelope") {
    b.setU16(s, 0);
    writeEnvelopeAt(b, b.initStruct(s + 8, 2, 2), push.envelope);
  } else if (push.type === "sessionEnded") {
    b.setU16(s, 1);
    writeError(b, s + 8, push.error);
  } else {
    throw invalid(`unknown push type ${String((push as { type: unknown }).type)}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Decoding

function readError(r: WireReader, s: StructRef): WireError {
  return { code: r.u16(s, 0), message: r.text(s, 0), retryAfterMs: r.u32(s, 4) };
}

function readSession(r: WireReader, s: StructRef): SessionInfo {
  return { username: r.text(s, 0), identityKey: r.data(s, 1), expiresAtMs: r.u64(s, 0, "expiresAtMs") };
}

function readEnvelope(r: WireReader, s: StructRef): Envelope {
  return {
    seq: r.u64(s, 0, "envelope.seq"),
    channelId: r.data(s, 0),
    payload: r.data(s, 1),
    enqueuedAtMs: r.u64(s, 8, "envelope.enqueuedAtMs"),
  };
}

/** Validates `bytes` (guard.ts) and runs `read`; anything unexpected becomes DecodeError(MalformedFrame). */
function decodeWith<T>(
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

/**
 * Decodes a ClientFrame. Throws DecodeError: FrameTooLarge / MalformedFrame for bad bytes, UnknownRequest
 * for a union member this build does not know (a newer client), InvalidArgument for a UInt64 above
 * 2^53-1. `requestId` is set on the error whenever the request id could be read, so the gateway can
 * answer that request.
 */
export function decodeClientFrame(bytes: Uint8Array, limits?: Partial<FrameLimits>): ClientFrame {
  return decodeWith(bytes, limits, (r) => {
    const root = r.root();
    const requestId = r.u32(root, 0);
    r.requestId = requestId;
    return { requestId, request: readRequest(r, root) };
  });
}

function readRequest(r: WireReader, root: StructRef): Request {
  const which = r.u16(root, 4);
  // Check the discriminant before touching the member: a newer client's member may not even be a struct.
  if (which > 20 || which === 18) {
    throw r.fail(`unknown request union member ${which}`, ErrorCode.UnknownRequest);
  }
  const s = which === 1 || which === 7 ? EMPTY_STRUCT : r.struct(root, 0);
  switch (which) {
    case 0:
      return {
        type: "hello",
        hello: { minVersion: r.u16(s, 0), maxVersion: r.u16(s, 2), client: r.text(s, 0) },
      };
    case 1:
      return { type: "health" };
    case 2:
      return { type: "registerStart", username: r.text(s, 0), registrationRequest: r.data(s, 1) };
    case 3:
      return {
        type: "registerFinish",
        username: r.text(s, 0),
        registrationRecord: r.data(s, 1),
        identityKey: r.data(s, 2),
      };
    case 4:
      return { type: "loginStart", username: r.text(s, 0), startLoginRequest: r.data(s, 1) };
    case 5:
      return { type: "loginFinish", loginId: r.data(s, 0), finishLoginRequest: r.data(s, 1) };
    case 6:
      return { type: "resumeSession", sessionToken: r.data(s, 0) };
    case 7:
      return { type: "logout" };
    case 8:
      return { type: "publishKeyPackages", keyPackages: r.dataList(s, 0), lastResort: r.data(s, 1) };
    case 9:
      return { type: "fetchKeyPackage", identityKey: r.data(s, 0) };
    case 10:
      return { type: "resolveUser", username: r.text(s, 0) };
    case 11: {
      const request: Request = {
        type: "enqueue",
        recipientKey: r.data(s, 0),
        channelId: r.data(s, 1),
        payload: r.data(s, 2),
      };
      const addMembers = r.dataList(s, 3);
      const removeMembers = r.dataList(s, 4);
      const nextTokenHash = r.data(s, 5);
      if (addMembers.length > 0) request.addMembers = addMembers;
      if (removeMembers.length > 0) request.removeMembers = removeMembers;
      if (nextTokenHash.length > 0) request.nextTokenHash = nextTokenHash;
      return request;
    }
    case 12:
      return withChannel(
        { type: "fetch", afterSeq: r.u64(s, 0, "fetch.afterSeq"), limit: r.u32(s, 8) },
        r.data(s, 0),
      );
    case 13:
      return { type: "ack", upToSeq: r.u64(s, 0, "ack.upToSeq") };
    case 14:
      return withChannel({ type: "subscribe", afterSeq: r.u64(s, 0, "subscribe.afterSeq") }, r.data(s, 0));
    case 15:
      return { type: "createChannel", peerKey: r.data(s, 0) };
    case 16:
      return {
        type: "createGroupChannel",
        epoch: r.u64(s, 0, "createGroupChannel.epoch"),
        groupId: r.data(s, 0),
        members: r.dataList(s, 1),
        tokenHash: r.data(s, 2),
      };
    case 17:
      return {
        type: "sealedEnqueue",
        channelId: r.data(s, 0),
        deliveryToken: r.data(s, 1),
        payload: r.data(s, 2),
      };
    case 19:
      return { type: "publishHybridKey", publicKey: r.data(s, 0), signature: r.data(s, 1) };
    case 20:
      return { type: "fetchHybridKey", identityKey: r.data(s, 0) };
    default:
      throw r.fail(`unknown request union member ${which}`, ErrorCode.UnknownRequest);
  }
}

/** An empty channel id decodes as absent, so old and new clients' plain requests look the same. */
function withChannel(
  request: Extract<Request, { type: "fetch" | "subscribe" }>,
  channelId: Uint8Array,
): Request {
  if (channelId.length > 0) request.channelId = channelId;
  return request;
}

/**
 * Decodes a ServerFrame. Throws DecodeError (MalformedFrame, FrameTooLarge, InvalidArgument); for a
 * response whose request id could be read, `requestId` is set. A union member this build does not know
 * (newer gateway) is MalformedFrame: callers drop such a push and fail such a call.
 */
export function decodeServerFrame(bytes: Uint8Array, limits?: Partial<FrameLimits>): ServerFrame {
  return decodeWith(bytes, limits, (r): ServerFrame => {
    const root = r.root();
    const which = r.u16(root, 0);
    const s = r.struct(root, 0);
    if (which === 0) {
      const requestId = r.u32(s, 0);
      r.requestId = requestId;
      return { type: "response", response: { requestId, body: readBody(r, s) } };
    }
    if (which === 1) return { type: "push", push: readPush(r, s) };
    throw r.fail(`unknown server frame union member ${which}`);
  });
}

function readBody(r: WireReader, response: StructRef): ResponseBody {
  const which = r.u16(response, 4);
  if (which > 21 || which === 19) throw r.fail(`unknown response union member ${which}`);
  const s = which === 4 || which === 8 || which === 20 ? EMPTY_STRUCT : r.struct(response, 0);
  switch (which) {
    case 0:
      return { type: "error", error: readError(r, s) };
    case 1:
      return { type: "hello", result: readHello(r, s) };
    case 2:
      return {
        type: "health",
        result: { status: r.text(s, 0), version: r.u16(s, 0), uptimeMs: r.u64(s, 8, "health.uptimeMs") },
      };
    case 3:
      return { type: "registerStart", result: { registrationResponse: r.data(s, 0) } };
    case 4:
      return { type: "registerFinish", result: {} };
    case 5:
      return { type: "loginStart", result: { loginId: r.data(s, 0), loginResponse: r.data(s, 1) } };
    case 6:
      return {
        type: "loginFinish",
        result: { sessionToken: r.data(s, 0), session: readSession(r, r.struct(s, 1)) },
      };
    case 7:
      return { type: "resumeSession", result: readSession(r, s) };
    case 8:
      return { type: "logout", result: {} };
    case 9:
      return { type: "publishKeyPackages", result: { available: r.u32(s, 0) } };
    case 10:
      return { type: "fetchKeyPackage", result: { keyPackage: r.data(s, 0), lastResort: r.bit(s, 0) } };
    case 11:
      return { type: "resolveUser", result: { identityKey: r.data(s, 0) } };
    case 12:
      return { type: "enqueue", result: { seq: r.u64(s, 0, "enqueue.seq") } };
    case 13:
      return {
        type: "fetch",
        result: { envelopes: r.structList(s, 0).map((e) => readEnvelope(r, e)), more: r.bit(s, 0) },
      };
    case 14:
      return { type: "ack", result: { removed: r.u32(s, 0) } };
    case 15:
      return { type: "subscribe", result: { headSeq: r.u64(s, 0, "subscribe.headSeq") } };
    case 16:
      return { type: "createChannel", result: { channelId: r.data(s, 0) } };
    case 17:
      return { type: "createGroupChannel", result: { channelId: r.data(s, 0) } };
    case 18:
      return { type: "sealedEnqueue", result: { recipients: r.u32(s, 0) } };
    case 20:
      return { type: "publishHybridKey", result: {} };
    case 21:
      return { type: "fetchHybridKey", result: { publicKey: r.data(s, 0), signature: r.data(s, 1) } };
    default:
      throw r.fail(`unknown response union member ${which}`);
  }
}

function readHello(r: WireReader, hello: StructRef): HelloResult {
  const which = r.u16(hello, 0);
  const s = r.struct(hello, 0);
  if (which === 0) {
    return {
      type: "ok",
      version: r.u16(s, 0),
      server: r.text(s, 0),
      maxFrameBytes: r.u32(s, 4),
      maxPayloadBytes: r.u32(s, 8),
    };
  }
  if (which === 1) {
    const reason = r.u16(s, 0);
    if (reason > 1) throw r.fail(`unknown Incompatible.Reason ${reason}`);
    return {
      type: "incompatible",
      reason: reason === 0 ? "clientTooOld" : "serverTooOld",
      serverMinVersion: r.u16(s, 2),
      serverMaxVersion: r.u16(s, 4),
    };
  }
  throw r.fail(`unknown HelloResponse union member ${which}`);
}

function readPush(r: WireReader, push: StructRef): Push {
  const which = r.u16(push, 0);
  const s = r.struct(push, 0);
  if (which === 0) return { type: "envelope", envelope: readEnvelope(r, s) };
  if (which === 1) return { type: "sessionEnded", error: readError(r, s) };
  throw r.fail(`unknown push union member ${which}`);
}
