/** ServerFrame encoding and decoding (gateway -> client). Layout notation as in codec.ts. */
import { EMPTY_STRUCT, WireBuilder, type WireReader, type StructRef } from "./wire.ts";
import type { FrameLimits } from "./limits.ts";
import type { HelloResult, Push, Response, ResponseBody, ServerFrame } from "./messages.ts";
import {
  decodeWith,
  invalid,
  readEnvelope,
  readError,
  readSession,
  sizeOf,
  u16,
  u32,
  u64,
  writeEnvelopeAt,
  writeError,
  writeSession,
} from "./codecCommon.ts";

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
