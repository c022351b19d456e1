/**
 * One or more sample frames for every union member of ClientFrame and ServerFrame, with edge values
 * (empty Data, 0 and 2^53-1 sequence numbers, unicode text, maximal integers). Used by the codec and
 * conformance tests and as seeds for the fuzz tests.
 */
import type {
  ClientFrame,
  Envelope,
  Request,
  RequestMap,
  RequestType,
  ResponseBody,
  ResultMap,
  ServerFrame,
} from "../messages.ts";

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function bytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 17) & 0xff;
  return out;
}

const empty = new Uint8Array(0);

/** A request member: `{ type, [type]: args }`, or `{ type }` for operations without arguments. */
function req<T extends RequestType>(type: T, args: RequestMap[T]): Request {
  return (args === undefined ? { type } : { type, [type]: args }) as Request;
}

function res<T extends RequestType>(type: T, result: ResultMap[T]): ResponseBody {
  return (result === undefined ? { type } : { type, [type]: result }) as ResponseBody;
}

export const sampleEnvelopes: Envelope[] = [
  { seq: 1, channelId: bytes(16, 2), payload: bytes(1024, 3), enqueuedAtMs: 1_764_000_000_000 },
  { seq: 0, channelId: empty, payload: empty, enqueuedAtMs: 0 },
  { seq: MAX_SAFE, channelId: empty, payload: bytes(1, 4), enqueuedAtMs: MAX_SAFE },
];

/** [name, request] for every Request member, some several times. */
export const sampleRequests: [string, Request][] = [
  ["hello", req("hello", { minVersion: 1, maxVersion: 0xffff, client: "qpq-web/0.1 (Chromium)" })],
  ["hello empty", req("hello", { minVersion: 0, maxVersion: 0, client: "" })],
  ["health", req("health", undefined)],
  ["registerStart", req("registerStart", { username: "alice", registrationRequest: bytes(32) })],
  ["registerStart unicode", req("registerStart", { username: "zoë-日本-👩‍💻", registrationRequest: empty })],
  [
    "registerFinish",
    req("registerFinish", { username: "bob", registrationRecord: bytes(192, 5), identityKey: bytes(32, 6) }),
  ],
  [
    "registerFinish empty",
    req("registerFinish", { username: "", registrationRecord: empty, identityKey: empty }),
  ],
  ["loginStart", req("loginStart", { username: "Ωmega", startLoginRequest: bytes(96, 7) })],
  ["loginFinish", req("loginFinish", { loginId: bytes(16, 8), finishLoginRequest: bytes(64, 9) })],
  ["loginFinish empty", req("loginFinish", { loginId: empty, finishLoginRequest: empty })],
  ["resumeSession", req("resumeSession", { sessionToken: bytes(32, 10) })],
  ["logout", req("logout", undefined)],
  [
    "publishKeyPackages",
    req("publishKeyPackages", {
      keyPackages: [bytes(328, 11), empty, bytes(7, 12)],
      lastResort: bytes(328, 13),
    }),
  ],
  ["publishKeyPackages empty", req("publishKeyPackages", { keyPackages: [], lastResort: empty })],
  ["fetchKeyPackage", req("fetchKeyPackage", { identityKey: bytes(32, 14) })],
  ["resolveUser", req("resolveUser", { username: "carol" })],
  ["resolveUser unicode", req("resolveUser", { username: "ünïcødé \u{1F600}" })],
  ["publishHybridKey", req("publishHybridKey", { publicKey: bytes(1216, 18), signature: bytes(64, 19) })],
  ["publishHybridKey empty", req("publishHybridKey", { publicKey: empty, signature: empty })],
  ["fetchHybridKey", req("fetchHybridKey", { identityKey: bytes(32, 20) })],
  [
    "attachDevice",
    req("attachDevice", {
      deviceKey: bytes(32, 60),
      issuedAtMs: MAX_SAFE,
      certificate: bytes(64, 61),
      name: "laptop 💻",
    }),
  ],
  [
    "attachDevice empty",
    req("attachDevice", { deviceKey: empty, issuedAtMs: 0, certificate: empty, name: "" }),
  ],
  ["listDevices", req("listDevices", { identityKey: bytes(32, 62) })],
  ["renameDevice", req("renameDevice", { deviceKey: bytes(32, 63), name: "phone" })],
  ["revokeDevice", req("revokeDevice", { deviceKey: bytes(32, 64) })],
  ["putAccountBundle", req("putAccountBundle", { bundle: bytes(200, 65) })],
  ["getAccountBundle", req("getAccountBundle", undefined)],
  [
    "putBackup",
    req("putBackup", {
      entries: [
        { key: bytes(32, 66), ciphertext: bytes(300, 67), seq: 0 },
        { key: empty, ciphertext: empty, seq: MAX_SAFE },
      ],
    }),
  ],
  ["putBackup empty", req("putBackup", { entries: [] })],
  ["fetchBackup", req("fetchBackup", { afterSeq: MAX_SAFE, limit: 0xffff_ffff })],
  ["fetchKeyPackages", req("fetchKeyPackages", { identityKey: bytes(32, 68), deviceKeys: [bytes(32, 69)] })],
  ["fetchKeyPackages all", req("fetchKeyPackages", { identityKey: bytes(32, 68), deviceKeys: [] })],
  [
    "createChannel",
    req("createChannel", {
      groupId: bytes(16, 50),
      members: [bytes(32, 51)],
      epoch: MAX_SAFE,
      tokenHash: bytes(32, 52),
    }),
  ],
  ["createChannel empty", req("createChannel", { groupId: empty, members: [], epoch: 0, tokenHash: empty })],
  [
    "enqueue",
    req("enqueue", {
      channelId: bytes(16, 16),
      payload: bytes(1024, 17),
      recipientKey: empty,
      commit: undefined,
    }),
  ],
  [
    "enqueue to one member",
    req("enqueue", {
      channelId: bytes(16, 15),
      payload: bytes(64, 18),
      recipientKey: bytes(32, 19),
      commit: undefined,
    }),
  ],
  [
    "enqueue empty",
    req("enqueue", { channelId: empty, payload: empty, recipientKey: empty, commit: undefined }),
  ],
  [
    "enqueue commit",
    req("enqueue", {
      channelId: bytes(16, 40),
      payload: bytes(900, 41),
      recipientKey: empty,
      commit: {
        addMembers: [bytes(32, 42), bytes(32, 43)],
        removeMembers: [bytes(32, 44)],
        nextTokenHash: bytes(32, 45),
      },
    }),
  ],
  [
    "enqueue empty commit",
    req("enqueue", {
      channelId: bytes(16, 46),
      payload: bytes(10, 47),
      recipientKey: empty,
      commit: { addMembers: [], removeMembers: [], nextTokenHash: empty },
    }),
  ],
  [
    "sealedEnqueue",
    req("sealedEnqueue", { channelId: bytes(16, 53), deliveryToken: bytes(32, 54), payload: bytes(300, 55) }),
  ],
  ["fetch", req("fetch", { afterSeq: 41, limit: 100, channelId: empty })],
  ["fetch zero", req("fetch", { afterSeq: 0, limit: 0, channelId: empty })],
  ["fetch max", req("fetch", { afterSeq: MAX_SAFE, limit: 0xffff_ffff, channelId: empty })],
  ["fetch channel", req("fetch", { afterSeq: 3, limit: 10, channelId: bytes(16, 47) })],
  ["ack", req("ack", { upToSeq: 2 ** 32 + 5 })],
  ["ack max", req("ack", { upToSeq: MAX_SAFE })],
  ["subscribe", req("subscribe", { afterSeq: 0, channelId: empty })],
  ["subscribe max", req("subscribe", { afterSeq: MAX_SAFE, channelId: empty })],
  ["subscribe channel", req("subscribe", { afterSeq: 9, channelId: bytes(16, 48) })],
];

export const sampleClientFrames: [string, ClientFrame][] = sampleRequests.map(([name, request], i) => [
  name,
  { requestId: i === 0 ? 0 : i === 1 ? 0xffff_ffff : i * 7919, request },
]);

const session = { username: "alice", identityKey: bytes(32, 20), expiresAtMs: 1_766_000_000_000 };

/** [name, body] for every Response.result member. */
export const sampleBodies: [string, ResponseBody][] = [
  ["error", { type: "error", error: { code: 16, message: "slow down ⏳", retryAfterMs: 1500 } }],
  ["error empty", { type: "error", error: { code: 0xffff, message: "", retryAfterMs: 0xffff_ffff } }],
  [
    "hello ok",
    res("hello", {
      type: "ok",
      ok: { version: 2, server: "quicproquo-gateway", maxFrameBytes: 1_114_112, maxPayloadBytes: 1 << 20 },
    }),
  ],
  [
    "hello clientTooOld",
    res("hello", {
      type: "incompatible",
      incompatible: { reason: "clientTooOld", serverMinVersion: 2, serverMaxVersion: 3 },
    }),
  ],
  [
    "hello serverTooOld",
    res("hello", {
      type: "incompatible",
      incompatible: { reason: "serverTooOld", serverMinVersion: 0, serverMaxVersion: 0xffff },
    }),
  ],
  ["health", res("health", { status: "ok", version: 2, uptimeMs: 123_456_789 })],
  ["health max", res("health", { status: "", version: 0xffff, uptimeMs: MAX_SAFE })],
  ["registerStart", res("registerStart", { registrationResponse: bytes(64, 21) })],
  ["registerFinish", res("registerFinish", undefined)],
  ["loginStart", res("loginStart", { loginId: bytes(16, 22), loginResponse: bytes(320, 23) })],
  ["loginFinish", res("loginFinish", { sessionToken: bytes(32, 24), session })],
  [
    "loginFinish empty session",
    res("loginFinish", {
      sessionToken: empty,
      session: { username: "", identityKey: empty, expiresAtMs: 0 },
    }),
  ],
  ["loginFinish no session", res("loginFinish", { sessionToken: bytes(32, 29), session: undefined })],
  ["resumeSession", res("resumeSession", { ...session, username: "ålice 🦊", expiresAtMs: MAX_SAFE })],
  ["logout", res("logout", undefined)],
  ["publishKeyPackages", res("publishKeyPackages", { available: 0xffff_ffff })],
  ["fetchKeyPackage", res("fetchKeyPackage", { keyPackage: bytes(328, 25), lastResort: true })],
  ["fetchKeyPackage not last resort", res("fetchKeyPackage", { keyPackage: empty, lastResort: false })],
  ["resolveUser", res("resolveUser", { identityKey: bytes(32, 26) })],
  ["publishHybridKey", res("publishHybridKey", undefined)],
  ["fetchHybridKey", res("fetchHybridKey", { publicKey: bytes(1216, 27), signature: bytes(64, 28) })],
  ["createChannel", res("createChannel", { channelId: bytes(16, 56) })],
  ["enqueue", res("enqueue", { seq: 42 })],
  ["enqueue max", res("enqueue", { seq: MAX_SAFE })],
  ["sealedEnqueue", res("sealedEnqueue", { recipients: 0xffff_ffff })],
  ["fetch", res("fetch", { envelopes: sampleEnvelopes, more: true })],
  ["fetch empty", res("fetch", { envelopes: [], more: false })],
  ["ack", res("ack", { removed: 17 })],
  ["subscribe", res("subscribe", { headSeq: 0 })],
  ["subscribe max", res("subscribe", { headSeq: MAX_SAFE })],
  ["attachDevice", res("attachDevice", { added: true })],
  [
    "listDevices",
    res("listDevices", {
      devices: [
        {
          deviceKey: bytes(32, 70),
          issuedAtMs: MAX_SAFE,
          certificate: bytes(64, 71),
          revokedAtMs: 0,
          name: "laptop",
          lastSeenMs: 5,
          createdAtMs: MAX_SAFE,
        },
        {
          deviceKey: empty,
          issuedAtMs: 0,
          certificate: empty,
          revokedAtMs: 9,
          name: "",
          lastSeenMs: 0,
          createdAtMs: 0,
        },
      ],
    }),
  ],
  ["listDevices empty", res("listDevices", { devices: [] })],
  ["renameDevice", res("renameDevice", undefined)],
  ["revokeDevice", res("revokeDevice", undefined)],
  ["putAccountBundle", res("putAccountBundle", undefined)],
  ["getAccountBundle", res("getAccountBundle", { bundle: bytes(300, 72) })],
  ["putBackup", res("putBackup", { stored: 3, usedBytes: MAX_SAFE, limitBytes: 64 })],
  [
    "fetchBackup",
    res("fetchBackup", { entries: [{ key: bytes(32, 73), ciphertext: bytes(100, 74), seq: 1 }], more: true }),
  ],
  [
    "fetchKeyPackages",
    res("fetchKeyPackages", {
      keyPackages: [
        {
          deviceKey: bytes(32, 75),
          issuedAtMs: 1,
          certificate: bytes(64, 76),
          keyPackage: bytes(328, 77),
          lastResort: false,
        },
      ],
    }),
  ],
];

export const sampleServerFrames: [string, ServerFrame][] = [
  ...sampleBodies.map(([name, result], i): [string, ServerFrame] => [
    `response ${name}`,
    { type: "response", response: { requestId: i === 0 ? 0xffff_ffff : i, result } },
  ]),
  ...sampleEnvelopes.map((envelope, i): [string, ServerFrame] => [
    `push envelope ${i}`,
    { type: "push", push: { type: "envelope", envelope } },
  ]),
  [
    "push sessionEnded",
    {
      type: "push",
      push: {
        type: "sessionEnded",
        sessionEnded: { code: 11, message: "logged out elsewhere", retryAfterMs: 0 },
      },
    },
  ],
];
