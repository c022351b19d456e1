/**
 * Plain TypeScript views of the frames in schemas/node.capnp. The codec (codec.ts) converts between
 * these and Cap'n Proto bytes; everything above the codec (gateway services, client core) works with
 * these types only. Sequence numbers are JS numbers: 2^53 messages per recipient is enough, and the
 * codec rejects anything larger.
 */
import type { ErrorCode } from "./errors.ts";

export interface HelloRequest {
  minVersion: number;
  maxVersion: number;
  client: string;
}

export type Request =
  | { type: "hello"; hello: HelloRequest }
  | { type: "health" }
  | { type: "registerStart"; username: string; registrationRequest: Uint8Array }
  | { type: "registerFinish"; username: string; registrationRecord: Uint8Array; identityKey: Uint8Array }
  | { type: "loginStart"; username: string; startLoginRequest: Uint8Array }
  | { type: "loginFinish"; loginId: Uint8Array; finishLoginRequest: Uint8Array }
  | { type: "resumeSession"; sessionToken: Uint8Array }
  | { type: "logout" }
  | { type: "publishKeyPackages"; keyPackages: Uint8Array[]; lastResort: Uint8Array }
  | { type: "fetchKeyPackage"; identityKey: Uint8Array }
  | { type: "resolveUser"; username: string }
  | ({ type: "enqueue"; recipientKey: Uint8Array; channelId: Uint8Array; payload: Uint8Array } & CommitClaims)
  | { type: "fetch"; afterSeq: number; limit: number; channelId?: Uint8Array }
  | { type: "ack"; upToSeq: number }
  | { type: "subscribe"; afterSeq: number; channelId?: Uint8Array }
  | { type: "createChannel"; peerKey: Uint8Array }
  | {
      type: "createGroupChannel";
      groupId: Uint8Array;
      members: Uint8Array[];
      epoch: number;
      tokenHash: Uint8Array;
    }
  | { type: "sealedEnqueue"; channelId: Uint8Array; deliveryToken: Uint8Array; payload: Uint8Array }
  | { type: "publishHybridKey"; publicKey: Uint8Array; signature: Uint8Array }
  | { type: "fetchHybridKey"; identityKey: Uint8Array };

/**
 * What an enqueue carrying a commit into a group channel claims about it. Optional on the wire (empty
 * lists and data decode as absent), so every other enqueue stays as small as before.
 */
export interface CommitClaims {
  addMembers?: Uint8Array[];
  removeMembers?: Uint8Array[];
  nextTokenHash?: Uint8Array;
}

export type RequestType = Request["type"];

export interface ClientFrame {
  requestId: number;
  request: Request;
}

export interface WireError {
  code: ErrorCode | number;
  message: string;
  retryAfterMs: number;
}

export type HelloResult =
  | { type: "ok"; version: number; server: string; maxFrameBytes: number; maxPayloadBytes: number }
  | {
      type: "incompatible";
      reason: "clientTooOld" | "serverTooOld";
      serverMinVersion: number;
      serverMaxVersion: number;
    };

export interface SessionInfo {
  username: string;
  identityKey: Uint8Array;
  expiresAtMs: number;
}

export interface Envelope {
  seq: number;
  channelId: Uint8Array;
  payload: Uint8Array;
  enqueuedAtMs: number;
}

/** Successful results, keyed by the request type they answer. */
export interface ResultMap {
  hello: HelloResult;
  health: { status: string; version: number; uptimeMs: number };
  registerStart: { registrationResponse: Uint8Array };
  registerFinish: Record<never, never>;
  loginStart: { loginId: Uint8Array; loginResponse: Uint8Array };
  loginFinish: { sessionToken: Uint8Array; session: SessionInfo };
  resumeSession: SessionInfo;
  logout: Record<never, never>;
  publishKeyPackages: { available: number };
  fetchKeyPackage: { keyPackage: Uint8Array; lastResort: boolean };
  resolveUser: { identityKey: Uint8Array };
  enqueue: { seq: number };
  fetch: { envelopes: Envelope[]; more: boolean };
  ack: { removed: number };
  subscribe: { headSeq: number };
  createChannel: { channelId: Uint8Array };
  createGroupChannel: { channelId: Uint8Array };
  sealedEnqueue: { recipients: number };
  publishHybridKey: Record<never, never>;
  fetchHybridKey: { publicKey: Uint8Array; signature: Uint8Array };
}

/**
 * A successful response body. The result is nested rather than spread into the body: spreading made the
 * hello member `{ type: "hello" } & HelloResult` collapse to `never` (HelloResult has its own `type`).
 */
export type Result = { [K in RequestType]: { type: K; result: ResultMap[K] } }[RequestType];

export type ResponseBody = { type: "error"; error: WireError } | Result;

export interface Response {
  requestId: number;
  body: ResponseBody;
}

export type Push = { type: "envelope"; envelope: Envelope } | { type: "sessionEnded"; error: WireError };

export type ServerFrame = { type: "response"; response: Response } | { type: "push"; push: Push };
