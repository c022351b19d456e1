/**
 * The frames of schemas/node.capnp as plain TypeScript, generated with the codec (generated/codec.ts),
 * plus the per-operation maps everything above the codec is typed with: a request member and the result
 * member of the same name form one operation. Sequence numbers are JS numbers: 2^53 messages per
 * recipient is enough, and the codec refuses anything larger.
 */
import type { ClientFrameRequestMembers, ResponseResultMembers } from "./generated/codec.ts";

export type {
  AckRequest,
  BackupEntry,
  ClientFrame,
  ClientFrameRequest as Request,
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
  Response,
  ResponseResult as ResponseBody,
  SealedEnqueueRequest,
  ServerFrame,
  SessionInfo,
  SubscribeRequest,
  WireError,
} from "./generated/codec.ts";

/** Each operation's request, by name (undefined for operations without arguments). */
export type RequestMap = ClientFrameRequestMembers;
export type RequestType = keyof RequestMap;
/** Each operation's successful result, by name (undefined for operations that return nothing). */
export type ResultMap = Omit<ResponseResultMembers, "error">;

// Every request member has a result member of the same name, and nothing else does: a schema change
// that breaks the pairing fails the type check here.
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
const operationsPaired: SameKeys<RequestMap, ResultMap> = true;
void operationsPaired;
