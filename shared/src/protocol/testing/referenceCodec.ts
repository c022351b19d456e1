/**
 * Reference codec written only against the capnp-es generated code (schemas/node.capnp ->
 * generated/node.ts). Tests use it as the oracle for wire compatibility of the hand-written codec in
 * codec.ts: every variant is encoded by one and decoded by the other. It is correct but slow (capnp-es
 * wraps every List/Data/Text in a Proxy): ~25-35 us per enqueue decode versus a few us for codec.ts.
 * Untrusted bytes pass guard.ts (openMessage) first, with capnp-es's traversal limit set.
 */
import * as $ from "capnp-es";
import * as S from "../generated/node.ts";
import { ErrorCode, QpqError } from "../errors.ts";
import { DecodeError } from "../decodeError.ts";
import { openMessage } from "../guard.ts";
import { resolveFrameLimits, type FrameLimits } from "../limits.ts";
import type {
  ClientFrame,
  Envelope,
  HelloResult,
  Push,
  Request,
  Response,
  ResponseBody,
  ServerFrame,
  SessionInfo,
  WireError,
} from "../messages.ts";

const RQ = S.ClientFrame_Request_Which;
const RS = S.Response_Result_Which;

// ---------------------------------------------------------------------------------------------------
// Encoding helpers

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

function u64(value: number, name: string): bigint {
  if (!Number.isSafeInteger(value) || value < 0) throw invalid(`${name} is not a safe UInt64: ${value}`);
  return BigInt(value);
}

/** Writes `bytes` through the generated `_initX(length)`; an empty value stays a null pointer. */
function setData(bytes: Uint8Array, init: (length: number) => $.Data): void {
  if (bytes.byteLength > 0) init(bytes.byteLength).copyBuffer(bytes);
}

function setDataList(items: Uint8Array[], init: (length: number) => $.List<$.Data>): void {
  if (items.length === 0) return;
  const list = init(items.length);
  items.forEach((item, i) => {
    if (item.byteLength > 0) initDataAt(list.get(i), item);
  });
}

/** Points `p` (a list element) at a new byte list holding `bytes`; what initList does for struct fields. */
function initDataAt(p: $.Pointer, bytes: Uint8Array): void {
  const content = p.segment.allocate(bytes.byteLength);
  const res = $.utils.initPointer(content.segment, content.byteOffset, p);
  $.utils.setListPointer(res.offsetWords, $.ListElementSize.BYTE, bytes.byteLength, res.pointer);
  new Uint8Array(content.segment.buffer, content.byteOffset, bytes.byteLength).set(bytes);
}

function writeError(s: S.Error, e: WireError): void {
  s.code = u16(e.code, "error.code");
  if (e.message.length > 0) s.message = e.message;
  s.retryAfterMs = u32(e.retryAfterMs, "error.retryAfterMs");
}

function writeSession(s: S.SessionInfo, v: SessionInfo): void {
  s.username = v.username;
  setData(v.identityKey, (n) => s._initIdentityKey(n));
  s.expiresAtMs = u64(v.expiresAtMs, "expiresAtMs");
}

function writeEnvelope(s: S.Envelope, v: Envelope): void {
  s.seq = u64(v.seq, "envelope.seq");
  setData(v.channelId, (n) => s._initChannelId(n));
  setData(v.payload, (n) => s._initPayload(n));
  s.enqueuedAtMs = u64(v.enqueuedAtMs, "envelope.enqueuedAtMs");
}

function toBytes(message: $.Message): Uint8Array {
  return new Uint8Array(message.toArrayBuffer());
}

// ---------------------------------------------------------------------------------------------------
// ClientFrame

export function refEncodeClientFrame(frame: ClientFrame): Uint8Array {
  const message = new $.Message();
  const root = message.initRoot(S.ClientFrame);
  root.requestId = u32(frame.requestId, "requestId");
  const r = root.request;
  const req = frame.request;
  switch (req.type) {
    case "hello": {
      const s = r._initHello();
      s.minVersion = u16(req.hello.minVersion, "hello.minVersion");
      s.maxVersion = u16(req.hello.maxVersion, "hello.maxVersion");
      s.client = req.hello.client;
      break;
    }
    case "health":
      r.health = true;
      break;
    case "registerStart": {
      const s = r._initRegisterStart();
      s.username = req.username;
      setData(req.registrationRequest, (n) => s._initRegistrationRequest(n));
      break;
    }
    case "registerFinish": {
      const s = r._initRegisterFinish();
      s.username = req.username;
      setData(req.registrationRecord, (n) => s._initRegistrationRecord(n));
      setData(req.identityKey, (n) => s._initIdentityKey(n));
      break;
    }
    case "loginStart": {
      const s = r._initLoginStart();
      s.username = req.username;
      setData(req.startLoginRequest, (n) => s._initStartLoginRequest(n));
      break;
    }
    case "loginFinish": {
      const s = r._initLoginFinish();
      setData(req.loginId, (n) => s._initLoginId(n));
      setData(req.finishLoginRequest, (n) => s._initFinishLoginRequest(n));
      break;
    }
    case "resumeSession": {
      const s = r._initResumeSession();
      setData(req.sessionToken, (n) => s._initSessionToken(n));
      break;
    }
    case "logout":
      r.logout = true;
      break;
    case "publishKeyPackages": {
      const s = r._initPublishKeyPackages();
      setDataList(req.keyPackages, (n) => s._initKeyPackages(n));
      setData(req.lastResort, (n) => s._initLastResort(n));
      break;
    }
    case "fetchKeyPackage": {
      const s = r._initFetchKeyPackage();
      setData(req.identityKey, (n) => s._initIdentityKey(n));
      break;
    }
    case "resolveUser":
      r._initResolveUser().username = req.username;
      break;
    case "enqueue": {
      const s = r._initEnqueue();
      setData(req.recipientKey, (n) => s._initRecipientKey(n));
      setData(req.channelId, (n) => s._initChannelId(n));
      setData(req.payload, (n) => s._initPayload(n));
      setDataList(req.addMembers ?? [], (n) => s._initAddMembers(n));
      setDataList(req.removeMembers ?? [], (n) => s._initRemoveMembers(n));
      setData(req.nextTokenHash ?? new Uint8Array(0), (n) => s._initNextTokenHash(n));
      break;
    }
    case "fetch": {
      const s = r._initFetch();
      s.afterSeq = u64(req.afterSeq, "fetch.afterSeq");
      s.limit = u32(req.limit, "fetch.limit");
      setData(req.channelId ?? new Uint8Array(0), (n) => s._initChannelId(n));
      break;
    }
    case "ack":
      r._initAck().upToSeq = u64(req.upToSeq, "ack.upToSeq");
      break;
    case "subscribe": {
      const s = r._initSubscribe();
      s.afterSeq = u64(req.afterSeq, "subscribe.afterSeq");
      setData(req.channelId ?? new Uint8Array(0), (n) => s._initChannelId(n));
      break;
    }
    case "createChannel": {
      const s = r._initCreateChannel();
      setData(req.peerKey, (n) => s._initPeerKey(n));
      break;
    }
    case "createGroupChannel": {
      const s = r._initCreateGroupChannel();
      setData(req.groupId, (n) => s._initGroupId(n));
      setDataList(req.members, (n) => s._initMembers(n));
      s.epoch = u64(req.epoch, "createGroupChannel.epoch");
      setData(req.tokenHash, (n) => s._initTokenHash(n));
      break;
    }
    case "sealedEnqueue": {
      const s = r._initSealedEnqueue();
      setData(req.channelId, (n) => s._initChannelId(n));
      setData(req.deliveryToken, (n) => s._initDeliveryToken(n));
      setData(req.payload, (n) => s._initPayload(n));
      break;
    }
    case "publishHybridKey": {
      const s = r._initPublishHybridKey();
      setData(req.publicKey, (n) => s._initPublicKey(n));
      setData(req.signature, (n) => s._initSignature(n));
      break;
    }
    case "fetchHybridKey": {
      const s = r._initFetchHybridKey();
      setData(req.identityKey, (n) => s._initIdentityKey(n));
      break;
    }
    default:
      throw invalid(`unknown request type ${String((req as { type: unknown }).type)}`);
  }
  return toBytes(message);
}

// ---------------------------------------------------------------------------------------------------
// ServerFrame

export function refEncodeServerFrame(frame: ServerFrame): Uint8Array {
  const message = new $.Message();
  const root = message.initRoot(S.ServerFrame);
  switch (frame.type) {
    case "response":
      writeResponse(root._initResponse(), frame.response);
      break;
    case "push":
      writePush(root._initPush(), frame.push);
      break;
    default:
      throw invalid(`unknown server frame type ${String((frame as { type: unknown }).type)}`);
  }
  return toBytes(message);
}

function writeResponse(s: S.Response, response: Response): void {
  s.requestId = u32(response.requestId, "requestId");
  const r = s.result;
  const body = response.body;
  switch (body.type) {
    case "error":
      writeError(r._initError(), body.error);
      break;
    case "hello":
      writeHello(r._initHello(), body.result);
      break;
    case "health": {
      const h = r._initHealth();
      h.status = body.result.status;
      h.version = u16(body.result.version, "health.version");
      h.uptimeMs = u64(body.result.uptimeMs, "health.uptimeMs");
      break;
    }
    case "registerStart": {
      const t = r._initRegisterStart();
      setData(body.result.registrationResponse, (n) => t._initRegistrationResponse(n));
      break;
    }
    case "registerFinish":
      r.registerFinish = true;
      break;
    case "loginStart": {
      const t = r._initLoginStart();
      setData(body.result.loginId, (n) => t._initLoginId(n));
      setData(body.result.loginResponse, (n) => t._initLoginResponse(n));
      break;
    }
    case "loginFinish": {
      const t = r._initLoginFinish();
      setData(body.result.sessionToken, (n) => t._initSessionToken(n));
      writeSession(t._initSession(), body.result.session);
      break;
    }
    case "resumeSession":
      writeSession(r._initResumeSession(), body.result);
      break;
    case "logout":
      r.logout = true;
      break;
    case "publishKeyPackages":
      r._initPublishKeyPackages().available = u32(body.result.available, "available");
      break;
    case "fetchKeyPackage": {
      const t = r._initFetchKeyPackage();
      setData(body.result.keyPackage, (n) => t._initKeyPackage(n));
      t.lastResort = body.result.lastResort;
      break;
    }
    case "resolveUser": {
      const t = r._initResolveUser();
      setData(body.result.identityKey, (n) => t._initIdentityKey(n));
      break;
    }
    case "enqueue":
      r._initEnqueue().seq = u64(body.result.seq, "enqueue.seq");
      break;
    case "fetch": {
      const t = r._initFetch();
      const envelopes = body.result.envelopes;
      if (envelopes.length > 0) {
        const list = t._initEnvelopes(envelopes.length);
        envelopes.forEach((e, i) => writeEnvelope(list.get(i), e));
      }
      t.more = body.result.more;
      break;
    }
    case "ack":
      r._initAck().removed = u32(body.result.removed, "ack.removed");
      break;
    case "subscribe":
      r._initSubscribe().headSeq = u64(body.result.headSeq, "subscribe.headSeq");
      break;
    case "createChannel": {
      const t = r._initCreateChannel();
      setData(body.result.channelId, (n) => t._initChannelId(n));
      break;
    }
    case "createGroupChannel": {
      const t = r._initCreateGroupChannel();
      setData(body.result.channelId, (n) => t._initChannelId(n));
      break;
    }
    case "sealedEnqueue":
      r._initSealedEnqueue().recipients = u32(body.result.recipients, "sealedEnqueue.recipients");
      break;
    case "publishHybridKey":
      r.publishHybridKey = true;
      break;
    case "fetchHybridKey": {
      const t = r._initFetchHybridKey();
      setData(body.result.publicKey, (n) => t._initPublicKey(n));
      setData(body.result.signature, (n) => t._initSignature(n));
      break;
    }
    default:
      throw invalid(`unknown response type ${String((body as { type: unknown }).type)}`);
  }
}

function writeHello(s: S.HelloResponse, v: HelloResult): void {
  if (v.type === "ok") {
    const ok = s._initOk();
    ok.version = u16(v.version, "hello.version");
    ok.server = v.server;
    ok.maxFrameBytes = u32(v.maxFrameBytes, "hello.maxFrameBytes");
    ok.maxPayloadBytes = u32(v.maxPayloadBytes, "hello.maxPayloadBytes");
  } else {
    const inc = s._initIncompatible();
    inc.reason =
      v.reason === "clientTooOld"
        ? S.Incompatible_Reason.CLIENT_TOO_OLD
        : S.Incompatible_Reason.SERVER_TOO_OLD;
    inc.serverMinVersion = u16(v.serverMinVersion, "hello.serverMinVersion");
    inc.serverMaxVersion = u16(v.serverMaxVersion, "hello.serverMaxVersion");
  }
}

function writePush(s: S.Push, push: Push): void {
  switch (push.type) {
    case "envelope":
      writeEnvelope(s._initEnvelope(), push.envelope);
      break;
    case "sessionEnded":
      writeError(s._initSessionEnded(), push.error);
      break;
    default:
      throw invalid(`unknown push type ${String((push as { type: unknown }).type)}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Decoding helpers

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Per-frame decoding state. `budget` bounds the bytes copied out and the list elements visited to the
 * frame's size: a legitimate message stores every Data value and list element once, so a frame whose
 * pointers alias one large blob many times (or that makes capnp-es read a non-byte list as Data) cannot
 * expand into more output than its own length.
 */
interface Ctx {
  budget: number;
  requestId: number | undefined;
}

function fail(ctx: Ctx, message: string, code: ErrorCode = ErrorCode.MalformedFrame): DecodeError {
  return new DecodeError(code, message, ctx.requestId);
}

function charge(ctx: Ctx, amount: number): void {
  ctx.budget -= amount;
  if (ctx.budget < 0) throw fail(ctx, "message expands beyond its own size (aliased pointers)");
}

function data(ctx: Ctx, d: $.Data): Uint8Array {
  const view = d.toUint8Array();
  charge(ctx, view.byteLength);
  return view.slice();
}

function dataList(ctx: Ctx, list: $.List<$.Data>): Uint8Array[] {
  const length = list.length;
  charge(ctx, length * 8);
  const out: Uint8Array[] = [];
  for (let i = 0; i < length; i++) out.push(data(ctx, list.get(i)));
  return out;
}

function num(ctx: Ctx, value: bigint, name: string): number {
  if (value > MAX_SAFE)
    throw fail(ctx, `${name} ${value} exceeds Number.MAX_SAFE_INTEGER`, ErrorCode.InvalidArgument);
  return Number(value);
}

function readError(s: S.Error): WireError {
  return { code: s.code, message: s.message, retryAfterMs: s.retryAfterMs };
}

function readSession(ctx: Ctx, s: S.SessionInfo): SessionInfo {
  return {
    username: s.username,
    identityKey: data(ctx, s.identityKey),
    expiresAtMs: num(ctx, s.expiresAtMs, "expiresAtMs"),
  };
}

function readEnvelope(ctx: Ctx, s: S.Envelope): Envelope {
  return {
    seq: num(ctx, s.seq, "envelope.seq"),
    channelId: data(ctx, s.channelId),
    payload: data(ctx, s.payload),
    enqueuedAtMs: num(ctx, s.enqueuedAtMs, "envelope.enqueuedAtMs"),
  };
}

/** Runs `read` on a guarded message, turning whatever capnp-es throws into DecodeError(MalformedFrame). */
function decodeWith<T>(
  bytes: Uint8Array,
  limits: Partial<FrameLimits> | undefined,
  read: (m: $.Message, ctx: Ctx) => T,
): T {
  const ctx: Ctx = { budget: bytes.byteLength, requestId: undefined };
  try {
    return read(openMessage(bytes, resolveFrameLimits(limits)), ctx);
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    const reason = err instanceof globalThis.Error ? err.message : String(err);
    throw fail(ctx, `undecodable message: ${reason}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Decoding

/**
 * Decodes a ClientFrame. Throws DecodeError: FrameTooLarge / MalformedFrame for bad bytes, UnknownRequest
 * for a union member this build does not know (a newer client), InvalidArgument for a UInt64 above 2^53-1;
 * `requestId` is set whenever it could be read.
 */
export function refDecodeClientFrame(bytes: Uint8Array, limits?: Partial<FrameLimits>): ClientFrame {
  return decodeWith(bytes, limits, (message, ctx) => {
    const root = message.getRoot(S.ClientFrame);
    const requestId = root.requestId;
    ctx.requestId = requestId;
    return { requestId, request: readRequest(ctx, root.request) };
  });
}

function readRequest(ctx: Ctx, r: S.ClientFrame_Request): Request {
  const which = r.which();
  switch (which) {
    case RQ.HELLO: {
      const s = r.hello;
      return {
        type: "hello",
        hello: { minVersion: s.minVersion, maxVersion: s.maxVersion, client: s.client },
      };
    }
    case RQ.HEALTH:
      return { type: "health" };
    case RQ.REGISTER_START: {
      const s = r.registerStart;
      return {
        type: "registerStart",
        username: s.username,
        registrationRequest: data(ctx, s.registrationRequest),
      };
    }
    case RQ.REGISTER_FINISH: {
      const s = r.registerFinish;
      return {
        type: "registerFinish",
        username: s.username,
        registrationRecord: data(ctx, s.registrationRecord),
        identityKey: data(ctx, s.identityKey),
      };
    }
    case RQ.LOGIN_START: {
      const s = r.loginStart;
      return { type: "loginStart", username: s.username, startLoginRequest: data(ctx, s.startLoginRequest) };
    }
    case RQ.LOGIN_FINISH: {
      const s = r.loginFinish;
      return {
        type: "loginFinish",
        loginId: data(ctx, s.loginId),
        finishLoginRequest: data(ctx, s.finishLoginRequest),
      };
    }
    case RQ.RESUME_SESSION:
      return { type: "resumeSession", sessionToken: data(ctx, r.resumeSession.sessionToken) };
    case RQ.LOGOUT:
      return { type: "logout" };
    case RQ.PUBLISH_KEY_PACKAGES: {
      const s = r.publishKeyPackages;
      return {
        type: "publishKeyPackages",
        keyPackages: dataList(ctx, s.keyPackages),
        lastResort: data(ctx, s.lastResort),
      };
    }
    case RQ.FETCH_KEY_PACKAGE:
      return { type: "fetchKeyPackage", identityKey: data(ctx, r.fetchKeyPackage.identityKey) };
    case RQ.RESOLVE_USER:
      return { type: "resolveUser", username: r.resolveUser.username };
    case RQ.ENQUEUE: {
      const s = r.enqueue;
      const request: Request = {
        type: "enqueue",
        recipientKey: data(ctx, s.recipientKey),
        channelId: data(ctx, s.channelId),
        payload: data(ctx, s.payload),
      };
      const addMembers = dataList(ctx, s.addMembers);
      const removeMembers = dataList(ctx, s.removeMembers);
      const nextTokenHash = data(ctx, s.nextTokenHash);
      if (addMembers.length > 0) request.addMembers = addMembers;
      if (removeMembers.length > 0) request.removeMembers = removeMembers;
      if (nextTokenHash.length > 0) request.nextTokenHash = nextTokenHash;
      return request;
    }
    case RQ.FETCH: {
      const s = r.fetch;
      const request: Request = {
        type: "fetch",
        afterSeq: num(ctx, s.afterSeq, "fetch.afterSeq"),
        limit: s.limit,
      };
      const channelId = data(ctx, s.channelId);
      if (channelId.length > 0) request.channelId = channelId;
      return request;
    }
    case RQ.ACK:
      return { type: "ack", upToSeq: num(ctx, r.ack.upToSeq, "ack.upToSeq") };
    case RQ.SUBSCRIBE: {
      const s = r.subscribe;
      const request: Request = { type: "subscribe", afterSeq: num(ctx, s.afterSeq, "subscribe.afterSeq") };
      const channelId = data(ctx, s.channelId);
      if (channelId.length > 0) request.channelId = channelId;
      return request;
    }
    case RQ.CREATE_CHANNEL:
      return { type: "createChannel", peerKey: data(ctx, r.createChannel.peerKey) };
    case RQ.CREATE_GROUP_CHANNEL: {
      const s = r.createGroupChannel;
      return {
        type: "createGroupChannel",
        groupId: data(ctx, s.groupId),
        members: dataList(ctx, s.members),
        epoch: num(ctx, s.epoch, "createGroupChannel.epoch"),
        tokenHash: data(ctx, s.tokenHash),
      };
    }
    case RQ.SEALED_ENQUEUE: {
      const s = r.sealedEnqueue;
      return {
        type: "sealedEnqueue",
        channelId: data(ctx, s.channelId),
        deliveryToken: data(ctx, s.deliveryToken),
        payload: data(ctx, s.payload),
      };
    }
    case RQ.PUBLISH_HYBRID_KEY: {
      const s = r.publishHybridKey;
      return {
        type: "publishHybridKey",
        publicKey: data(ctx, s.publicKey),
        signature: data(ctx, s.signature),
      };
    }
    case RQ.FETCH_HYBRID_KEY:
      return { type: "fetchHybridKey", identityKey: data(ctx, r.fetchHybridKey.identityKey) };
    default:
      throw fail(ctx, `unknown request union member ${which as number}`, ErrorCode.UnknownRequest);
  }
}

/**
 * Decodes a ServerFrame. Throws DecodeError (MalformedFrame, FrameTooLarge, InvalidArgument); for a
 * response whose request id could be read, `requestId` is set. A union member this build does not know
 * (newer gateway) is MalformedFrame: callers drop such a push and fail such a call.
 */
export function refDecodeServerFrame(bytes: Uint8Array, limits?: Partial<FrameLimits>): ServerFrame {
  return decodeWith(bytes, limits, (message, ctx): ServerFrame => {
    const root = message.getRoot(S.ServerFrame);
    const which = root.which();
    switch (which) {
      case S.ServerFrame_Which.RESPONSE: {
        const s = root.response;
        const requestId = s.requestId;
        ctx.requestId = requestId;
        return { type: "response", response: { requestId, body: readBody(ctx, s.result) } };
      }
      case S.ServerFrame_Which.PUSH:
        return { type: "push", push: readPush(ctx, root.push) };
      default:
        throw fail(ctx, `unknown server frame union member ${which as number}`);
    }
  });
}

function readBody(ctx: Ctx, r: S.Response_Result): ResponseBody {
  const which = r.which();
  switch (which) {
    case RS.ERROR:
      return { type: "error", error: readError(r.error) };
    case RS.HELLO:
      return { type: "hello", result: readHello(ctx, r.hello) };
    case RS.HEALTH: {
      const s = r.health;
      return {
        type: "health",
        result: { status: s.status, version: s.version, uptimeMs: num(ctx, s.uptimeMs, "health.uptimeMs") },
      };
    }
    case RS.REGISTER_START:
      return {
        type: "registerStart",
        result: { registrationResponse: data(ctx, r.registerStart.registrationResponse) },
      };
    case RS.REGISTER_FINISH:
      return { type: "registerFinish", result: {} };
    case RS.LOGIN_START: {
      const s = r.loginStart;
      return {
        type: "loginStart",
        result: { loginId: data(ctx, s.loginId), loginResponse: data(ctx, s.loginResponse) },
      };
    }
    case RS.LOGIN_FINISH: {
      const s = r.loginFinish;
      return {
        type: "loginFinish",
        result: { sessionToken: data(ctx, s.sessionToken), session: readSession(ctx, s.session) },
      };
    }
    case RS.RESUME_SESSION:
      return { type: "resumeSession", result: readSession(ctx, r.resumeSession) };
    case RS.LOGOUT:
      return { type: "logout", result: {} };
    case RS.PUBLISH_KEY_PACKAGES:
      return { type: "publishKeyPackages", result: { available: r.publishKeyPackages.available } };
    case RS.FETCH_KEY_PACKAGE: {
      const s = r.fetchKeyPackage;
      return {
        type: "fetchKeyPackage",
        result: { keyPackage: data(ctx, s.keyPackage), lastResort: s.lastResort },
      };
    }
    case RS.RESOLVE_USER:
      return { type: "resolveUser", result: { identityKey: data(ctx, r.resolveUser.identityKey) } };
    case RS.ENQUEUE:
      return { type: "enqueue", result: { seq: num(ctx, r.enqueue.seq, "enqueue.seq") } };
    case RS.FETCH: {
      const s = r.fetch;
      // capnp-es "upgrades" a struct list it believes was written with smaller elements by allocating and
      // copying count x element size; only a real composite list has a validated count, so insist on one.
      const p = $.utils.getPointer(0, s);
      if (
        !$.utils.isNull(p) &&
        ($.utils.getTargetPointerType(p) !== $.PointerType.LIST ||
          $.utils.getTargetListElementSize(p) !== $.ListElementSize.COMPOSITE)
      ) {
        throw fail(ctx, "fetch.envelopes is not a struct list");
      }
      const list = s.envelopes;
      const length = list.length;
      charge(ctx, length * 8);
      const envelopes: Envelope[] = [];
      for (let i = 0; i < length; i++) envelopes.push(readEnvelope(ctx, list.get(i)));
      return { type: "fetch", result: { envelopes, more: s.more } };
    }
    case RS.ACK:
      return { type: "ack", result: { removed: r.ack.removed } };
    case RS.SUBSCRIBE:
      return { type: "subscribe", result: { headSeq: num(ctx, r.subscribe.headSeq, "subscribe.headSeq") } };
    case RS.CREATE_CHANNEL:
      return { type: "createChannel", result: { channelId: data(ctx, r.createChannel.channelId) } };
    case RS.CREATE_GROUP_CHANNEL:
      return { type: "createGroupChannel", result: { channelId: data(ctx, r.createGroupChannel.channelId) } };
    case RS.SEALED_ENQUEUE:
      return { type: "sealedEnqueue", result: { recipients: r.sealedEnqueue.recipients } };
    case RS.PUBLISH_HYBRID_KEY:
      return { type: "publishHybridKey", result: {} };
    case RS.FETCH_HYBRID_KEY: {
      const s = r.fetchHybridKey;
      return {
        type: "fetchHybridKey",
        result: { publicKey: data(ctx, s.publicKey), signature: data(ctx, s.signature) },
      };
    }
    default:
      throw fail(ctx, `unknown response union member ${which as number}`);
  }
}

function readHello(ctx: Ctx, s: S.HelloResponse): HelloResult {
  const which = s.which();
  switch (which) {
    case S.HelloResponse_Which.OK: {
      const ok = s.ok;
      return {
        type: "ok",
        version: ok.version,
        server: ok.server,
        maxFrameBytes: ok.maxFrameBytes,
        maxPayloadBytes: ok.maxPayloadBytes,
      };
    }
    case S.HelloResponse_Which.INCOMPATIBLE: {
      const inc = s.incompatible;
      const reason = inc.reason;
      if (
        reason !== S.Incompatible_Reason.CLIENT_TOO_OLD &&
        reason !== S.Incompatible_Reason.SERVER_TOO_OLD
      ) {
        throw fail(ctx, `unknown Incompatible.Reason ${reason as number}`);
      }
      return {
        type: "incompatible",
        reason: reason === S.Incompatible_Reason.CLIENT_TOO_OLD ? "clientTooOld" : "serverTooOld",
        serverMinVersion: inc.serverMinVersion,
        serverMaxVersion: inc.serverMaxVersion,
      };
    }
    default:
      throw fail(ctx, `unknown HelloResponse union member ${which as number}`);
  }
}

function readPush(ctx: Ctx, s: S.Push): Push {
  const which = s.which();
  switch (which) {
    case S.Push_Which.ENVELOPE:
      return { type: "envelope", envelope: readEnvelope(ctx, s.envelope) };
    case S.Push_Which.SESSION_ENDED:
      return { type: "sessionEnded", error: readError(s.sessionEnded) };
    default:
      throw fail(ctx, `unknown push union member ${which as number}`);
  }
}
