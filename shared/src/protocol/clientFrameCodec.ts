/** ClientFrame encoding and decoding (client -> gateway). Layout notation as in codec.ts. */
import { ErrorCode } from "./errors.ts";
import { EMPTY_STRUCT, WireBuilder, type WireReader, type StructRef } from "./wire.ts";
import type { FrameLimits } from "./limits.ts";
import type { ClientFrame, Request, RequestType } from "./messages.ts";
import { decodeWith, invalid, setDataList, sizeOf, u16, u32, u64 } from "./codecCommon.ts";

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
