/**
 * One or more sample frames for every union member of ClientFrame and ServerFrame, with edge values
 * (empty Data, 0 and 2^53-1 sequence numbers, unicode text, maximal integers). Used by the codec tests and
 * as seeds for the fuzz tests.
 */
import type { ClientFrame, Envelope, Request, ResponseBody, ServerFrame } from "../messages.ts";

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function bytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 17) & 0xff;
  return out;
}

const empty = new Uint8Array(0);

export const sampleEnvelopes: Envelope[] = [
  { seq: 1, channelId: bytes(16, 2), payload: bytes(1024, 3), enqueuedAtMs: 1_764_000_000_000 },
  { seq: 0, channelId: empty, payload: empty, enqueuedAtMs: 0 },
  { seq: MAX_SAFE, channelId: empty, payload: bytes(1, 4), enqueuedAtMs: MAX_SAFE },
];

/** [name, request] for every Request member, some several times. */
export const sampleRequests: [string, Request][] = [
  [
    "hello",
    { type: "hello", hello: { minVersion: 1, maxVersion: 0xffff, client: "qpq-web/0.1 (Chromium)" } },
  ],
  ["hello empty", { type: "hello", hello: { minVersion: 0, maxVersion: 0, client: "" } }],
  ["health", { type: "health" }],
  ["registerStart", { type: "registerStart", username: "alice", registrationRequest: bytes(32) }],
  ["registerStart unicode", { type: "registerStart", username: "zoë-日本-👩‍💻", registrationRequest: empty }],
  [
    "registerFinish",
    { type: "registerFinish", username: "bob", registrationRecord: bytes(192, 5), identityKey: bytes(32, 6) },
  ],
  [
    "registerFinish empty",
    { type: "registerFinish", username: "", registrationRecord: empty, identityKey: empty },
  ],
  ["loginStart", { type: "loginStart", username: "Ωmega", startLoginRequest: bytes(96, 7) }],
  ["loginFinish", { type: "loginFinish", loginId: bytes(16, 8), finishLoginRequest: bytes(64, 9) }],
  ["loginFinish empty", { type: "loginFinish", loginId: empty, finishLoginRequest: empty }],
  ["resumeSession", { type: "resumeSession", sessionToken: bytes(32, 10) }],
  ["logout", { type: "logout" }],
  [
    "publishKeyPackages",
    {
      type: "publishKeyPackages",
      keyPackages: [bytes(328, 11), empty, bytes(7, 12)],
      lastResort: bytes(328, 13),
    },
  ],
  ["publishKeyPackages empty", { type: "publishKeyPackages", keyPackages: [], lastResort: empty }],
  ["fetchKeyPackage", { type: "fetchKeyPackage", identityKey: bytes(32, 14) }],
  ["resolveUser", { type: "resolveUser", username: "carol" }],
  ["resolveUser unicode", { type: "resolveUser", username: "ünïcødé \u{1F600}" }],
  [
    "enqueue",
    { type: "enqueue", recipientKey: bytes(32, 15), channelId: bytes(16, 16), payload: bytes(1024, 17) },
  ],
  ["enqueue empty", { type: "enqueue", recipientKey: empty, channelId: empty, payload: empty }],
  ["fetch", { type: "fetch", afterSeq: 41, limit: 100 }],
  ["fetch zero", { type: "fetch", afterSeq: 0, limit: 0 }],
  ["fetch max", { type: "fetch", afterSeq: MAX_SAFE, limit: 0xffff_ffff }],
  ["ack", { type: "ack", upToSeq: 2 ** 32 + 5 }],
  ["ack max", { type: "ack", upToSeq: MAX_SAFE }],
  ["subscribe", { type: "subscribe", afterSeq: 0 }],
  ["subscribe max", { type: "subscribe", afterSeq: MAX_SAFE }],
  [
    "enqueue commit",
    {
      type: "enqueue",
      recipientKey: empty,
      channelId: bytes(16, 40),
      payload: bytes(900, 41),
      addMembers: [bytes(32, 42), bytes(32, 43)],
      removeMembers: [bytes(32, 44)],
      nextTokenHash: bytes(32, 45),
    },
  ],
  [
    "enqueue token only",
    { type: "enqueue", recipientKey: empty, channelId: empty, payload: empty, nextTokenHash: bytes(32, 46) },
  ],
  ["fetch channel", { type: "fetch", afterSeq: 3, limit: 10, channelId: bytes(16, 47) }],
  ["subscribe channel", { type: "subscribe", afterSeq: 9, channelId: bytes(16, 48) }],
  ["createChannel", { type: "createChannel", peerKey: bytes(32, 49) }],
  [
    "createGroupChannel",
    {
      type: "createGroupChannel",
      groupId: bytes(16, 50),
      members: [bytes(32, 51)],
      epoch: MAX_SAFE,
      tokenHash: bytes(32, 52),
    },
  ],
  [
    "createGroupChannel empty",
    { type: "createGroupChannel", groupId: empty, members: [], epoch: 0, tokenHash: empty },
  ],
  [
    "sealedEnqueue",
    {
      type: "sealedEnqueue",
      channelId: bytes(16, 53),
      deliveryToken: bytes(32, 54),
      payload: bytes(300, 55),
    },
  ],
  ["publishHybridKey", { type: "publishHybridKey", publicKey: bytes(1216, 18), signature: bytes(64, 19) }],
  ["publishHybridKey empty", { type: "publishHybridKey", publicKey: empty, signature: empty }],
  ["fetchHybridKey", { type: "fetchHybridKey", identityKey: bytes(32, 20) }],
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
    {
      type: "hello",
      result: {
        type: "ok",
        version: 1,
        server: "quicproquo-gateway",
        maxFrameBytes: 1_114_112,
        maxPayloadBytes: 1 << 20,
      },
    },
  ],
  [
    "hello clientTooOld",
    {
      type: "hello",
      result: { type: "incompatible", reason: "clientTooOld", serverMinVersion: 2, serverMaxVersion: 3 },
    },
  ],
  [
    "hello serverTooOld",
    {
      type: "hello",
      result: { type: "incompatible", reason: "serverTooOld", serverMinVersion: 0, serverMaxVersion: 0xffff },
    },
  ],
  ["health", { type: "health", result: { status: "ok", version: 1, uptimeMs: 123_456_789 } }],
  ["health max", { type: "health", result: { status: "", version: 0xffff, uptimeMs: MAX_SAFE } }],
  ["registerStart", { type: "registerStart", result: { registrationResponse: bytes(64, 21) } }],
  ["registerFinish", { type: "registerFinish", result: {} }],
  ["loginStart", { type: "loginStart", result: { loginId: bytes(16, 22), loginResponse: bytes(320, 23) } }],
  ["loginFinish", { type: "loginFinish", result: { sessionToken: bytes(32, 24), session } }],
  [
    "loginFinish empty",
    {
      type: "loginFinish",
      result: { sessionToken: empty, session: { username: "", identityKey: empty, expiresAtMs: 0 } },
    },
  ],
  [
    "resumeSession",
    { type: "resumeSession", result: { ...session, username: "ålice 🦊", expiresAtMs: MAX_SAFE } },
  ],
  ["logout", { type: "logout", result: {} }],
  ["publishKeyPackages", { type: "publishKeyPackages", result: { available: 0xffff_ffff } }],
  ["fetchKeyPackage", { type: "fetchKeyPackage", result: { keyPackage: bytes(328, 25), lastResort: true } }],
  [
    "fetchKeyPackage not last resort",
    { type: "fetchKeyPackage", result: { keyPackage: empty, lastResort: false } },
  ],
  ["resolveUser", { type: "resolveUser", result: { identityKey: bytes(32, 26) } }],
  ["enqueue", { type: "enqueue", result: { seq: 42 } }],
  ["enqueue max", { type: "enqueue", result: { seq: MAX_SAFE } }],
  ["fetch", { type: "fetch", result: { envelopes: sampleEnvelopes, more: true } }],
  ["fetch empty", { type: "fetch", result: { envelopes: [], more: false } }],
  ["ack", { type: "ack", result: { removed: 17 } }],
  ["createChannel", { type: "createChannel", result: { channelId: bytes(16, 56) } }],
  ["createGroupChannel", { type: "createGroupChannel", result: { channelId: bytes(16, 57) } }],
  ["sealedEnqueue", { type: "sealedEnqueue", result: { recipients: 0xffff_ffff } }],
  ["subscribe", { type: "subscribe", result: { headSeq: 0 } }],
  ["subscribe max", { type: "subscribe", result: { headSeq: MAX_SAFE } }],
  ["publishHybridKey", { type: "publishHybridKey", result: {} }],
  [
    "fetchHybridKey",
    { type: "fetchHybridKey", result: { publicKey: bytes(1216, 27), signature: bytes(64, 28) } },
  ],
];

export const sampleServerFrames: [string, ServerFrame][] = [
  ...sampleBodies.map(([name, body], i): [string, ServerFrame] => [
    `response ${name}`,
    { type: "response", response: { requestId: i === 0 ? 0xffff_ffff : i, body } },
  ]),
  ...sampleEnvelopes.map((envelope, i): [string, ServerFrame] => [
    `push envelope ${i}`,
    { type: "push", push: { type: "envelope", envelope } },
  ]),
  [
    "push sessionEnded",
    {
      type: "push",
      push: { type: "sessionEnded", error: { code: 11, message: "logged out elsewhere", retryAfterMs: 0 } },
    },
  ],
];
