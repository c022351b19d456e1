import { describe, expect, it } from "vitest";
import { decodeClientFrame, decodeServerFrame, encodeClientFrame, encodeServerFrame } from "./codec.ts";
import { DecodeError } from "./decodeError.ts";
import { ErrorCode, QpqError } from "./errors.ts";
import type { ClientFrame, RequestType, ResponseBody, ServerFrame } from "./messages.ts";
import {
  refDecodeClientFrame,
  refDecodeServerFrame,
  refEncodeClientFrame,
  refEncodeServerFrame,
} from "./testing/referenceCodec.ts";
import { sampleBodies, sampleClientFrames, sampleRequests, sampleServerFrames } from "./testing/samples.ts";

function decodeError(f: () => unknown): DecodeError {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(DecodeError);
    return error as DecodeError;
  }
  throw new Error("expected a DecodeError");
}

const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** Turns a single-segment message into one whose root is reached through a (double-)far pointer. */
function viaFarPointer(message: Uint8Array, double: boolean): Uint8Array {
  const segment = message.subarray(8);
  const words = segment.byteLength / 8;
  const rootLo = dv(segment).getUint32(0, true);
  const rootHi = dv(segment).getUint32(4, true);
  const segments: Uint8Array[] = [new Uint8Array(8), segment];
  const s0 = dv(segments[0]!);
  if (!double) {
    // Segment 1 is the original segment: its word 0 (the root pointer) serves as the landing pad.
    s0.setUint32(0, (0 << 3) | 2, true);
    s0.setUint32(4, 1, true);
  } else {
    // Segment 2 holds the landing pad: a far pointer to the root struct's content plus a tag word.
    const pad = new Uint8Array(16);
    const contentWord = 1 + (rootLo >> 2);
    dv(pad).setUint32(0, (contentWord << 3) | 2, true);
    dv(pad).setUint32(4, 1, true);
    dv(pad).setUint32(8, rootLo & 3, true);
    dv(pad).setUint32(12, rootHi, true);
    segments.push(pad);
    s0.setUint32(0, (0 << 3) | 4 | 2, true);
    s0.setUint32(4, 2, true);
  }
  const headerBytes = (4 + 4 * segments.length + 7) & ~7;
  const out = new Uint8Array(headerBytes + segments.reduce((n, s) => n + s.byteLength, 0));
  dv(out).setUint32(0, segments.length - 1, true);
  let at = headerBytes;
  segments.forEach((s, i) => {
    dv(out).setUint32(4 + 4 * i, s.byteLength / 8, true);
    out.set(s, at);
    at += s.byteLength;
  });
  expect(words).toBeGreaterThan(0);
  return out;
}

/** Union discriminants run from 0: the first one past the request members (or, with error, past the results) is unknown. */
const REQUEST_MEMBERS = new Set(sampleRequests.map(([, r]) => r.type)).size;

describe("codec: every variant", () => {
  it("samples cover every request and response member", () => {
    const all: Record<RequestType, true> = {
      hello: true,
      health: true,
      registerStart: true,
      registerFinish: true,
      loginStart: true,
      loginFinish: true,
      resumeSession: true,
      logout: true,
      publishKeyPackages: true,
      fetchKeyPackage: true,
      resolveUser: true,
      enqueue: true,
      fetch: true,
      ack: true,
      subscribe: true,
      createChannel: true,
      sealedEnqueue: true,
      publishHybridKey: true,
      fetchHybridKey: true,
      attachDevice: true,
      listDevices: true,
      renameDevice: true,
      revokeDevice: true,
      putAccountBundle: true,
      getAccountBundle: true,
      putBackup: true,
      fetchBackup: true,
      fetchKeyPackages: true,
    };
    expect(new Set(sampleRequests.map(([, r]) => r.type))).toEqual(new Set(Object.keys(all)));
    const bodyTypes: ResponseBody["type"][] = [...(Object.keys(all) as RequestType[]), "error"];
    expect(new Set(sampleBodies.map(([, b]) => b.type))).toEqual(new Set(bodyTypes));
    expect(
      new Set(sampleServerFrames.map(([, f]) => (f.type === "push" ? f.push.type : "response"))),
    ).toEqual(new Set(["response", "envelope", "sessionEnded"]));
  });

  describe.each(sampleClientFrames)("ClientFrame %s", (_name, frame: ClientFrame) => {
    it("round-trips", () => {
      expect(decodeClientFrame(encodeClientFrame(frame))).toEqual(frame);
    });
    it("conforms to capnp-es, an independent implementation, in both directions", () => {
      expect(refDecodeClientFrame(encodeClientFrame(frame))).toEqual(frame);
      expect(decodeClientFrame(refEncodeClientFrame(frame))).toEqual(frame);
    });
    it("decodes through far and double-far pointers", () => {
      for (const double of [false, true]) {
        const bytes = viaFarPointer(encodeClientFrame(frame), double);
        expect(decodeClientFrame(bytes)).toEqual(frame);
        expect(refDecodeClientFrame(bytes)).toEqual(frame);
      }
    });
  });

  describe.each(sampleServerFrames)("ServerFrame %s", (_name, frame: ServerFrame) => {
    it("round-trips", () => {
      expect(decodeServerFrame(encodeServerFrame(frame))).toEqual(frame);
    });
    it("conforms to capnp-es, an independent implementation, in both directions", () => {
      expect(refDecodeServerFrame(encodeServerFrame(frame))).toEqual(frame);
      expect(decodeServerFrame(refEncodeServerFrame(frame))).toEqual(frame);
    });
    it("decodes through far and double-far pointers", () => {
      for (const double of [false, true]) {
        expect(decodeServerFrame(viaFarPointer(encodeServerFrame(frame), double))).toEqual(frame);
      }
    });
  });
});

describe("codec: details", () => {
  const enqueue: ClientFrame = {
    requestId: 77,
    request: {
      type: "enqueue",
      enqueue: {
        channelId: new Uint8Array(16),
        payload: new Uint8Array(1024).fill(9),
        recipientKey: new Uint8Array(32).fill(1),
        commit: undefined,
      },
    },
  };

  it("copies Data out of the frame: results do not alias the input", () => {
    const bytes = encodeClientFrame(enqueue);
    const decoded = decodeClientFrame(bytes);
    bytes.fill(0);
    expect(decoded).toEqual(enqueue);
    if (decoded.request.type !== "enqueue") throw new Error("unreachable");
    expect(decoded.request.enqueue.payload.buffer).not.toBe(bytes.buffer);
    expect(decoded.request.enqueue.payload.byteOffset).toBe(0);
    expect(decoded.request.enqueue.payload.buffer.byteLength).toBe(1024);
  });

  it("decodes from a view at any offset inside a larger buffer", () => {
    const bytes = encodeClientFrame(enqueue);
    const big = new Uint8Array(bytes.byteLength + 13);
    big.set(bytes, 5);
    expect(decodeClientFrame(big.subarray(5, 5 + bytes.byteLength))).toEqual(enqueue);
  });

  it("an unknown request member (newer client) is UnknownRequest with the request id", () => {
    const bytes = encodeClientFrame({ requestId: 4242, request: { type: "health" } });
    // Message layout: 8-byte segment table, root pointer, ClientFrame data word: requestId u32, which u16.
    expect(dv(bytes).getUint32(16, true)).toBe(4242);
    for (const which of [REQUEST_MEMBERS, REQUEST_MEMBERS + 1, 0xffff]) {
      const patched = bytes.slice();
      dv(patched).setUint16(20, which, true);
      const error = decodeError(() => decodeClientFrame(patched));
      expect(error.code).toBe(ErrorCode.UnknownRequest);
      expect(error.requestId).toBe(4242);
      expect(error).toBeInstanceOf(QpqError);
    }
  });

  it("an unknown member whose pointer is not even a struct is still UnknownRequest", () => {
    const bytes = encodeClientFrame({
      requestId: 9,
      request: { type: "resolveUser", resolveUser: { username: "x" } },
    });
    const patched = bytes.slice();
    dv(patched).setUint16(20, REQUEST_MEMBERS, true);
    // Turn the member pointer into a byte-list pointer.
    dv(patched).setUint32(24, (dv(patched).getUint32(24, true) & ~3) | 1, true);
    dv(patched).setUint32(28, 2 | (8 << 3), true);
    const error = decodeError(() => decodeClientFrame(patched));
    expect([ErrorCode.UnknownRequest, ErrorCode.MalformedFrame]).toContain(error.code);
    expect(error.requestId).toBe(9);
  });

  it("unknown server-side members are UnknownRequest, with the request id for responses", () => {
    const response = encodeServerFrame({
      type: "response",
      response: { requestId: 5, result: { type: "logout" } },
    });
    const patched = response.slice();
    // Bytes: table 0-7, root pointer 8, ServerFrame 16 (data) + 24 (pointer), Response data at 32: requestId, which @36.
    expect(dv(patched).getUint32(32, true)).toBe(5);
    dv(patched).setUint16(36, REQUEST_MEMBERS + 1, true);
    const e1 = decodeError(() => decodeServerFrame(patched));
    expect(e1.code).toBe(ErrorCode.UnknownRequest);
    expect(e1.requestId).toBe(5);

    const push = encodeServerFrame({
      type: "push",
      push: { type: "sessionEnded", sessionEnded: { code: 1, message: "", retryAfterMs: 0 } },
    });
    const p2 = push.slice();
    dv(p2).setUint16(16, 2, true);
    expect(decodeError(() => decodeServerFrame(p2)).code).toBe(ErrorCode.UnknownRequest);
  });

  it("reads UInt64 above 2^53-1 as InvalidArgument with the request id", () => {
    const bytes = encodeClientFrame({ requestId: 3, request: { type: "ack", ack: { upToSeq: 1 } } });
    const patched = bytes.slice();
    // AckRequest follows the ClientFrame struct: its u64 is the last word of the message.
    dv(patched).setBigUint64(patched.byteLength - 8, 2n ** 53n, true);
    const error = decodeError(() => decodeClientFrame(patched));
    expect(error.code).toBe(ErrorCode.InvalidArgument);
    expect(error.requestId).toBe(3);
    dv(patched).setBigUint64(patched.byteLength - 8, 2n ** 53n - 1n, true);
    expect(decodeClientFrame(patched).request).toEqual({
      type: "ack",
      ack: { upToSeq: Number.MAX_SAFE_INTEGER },
    });
  });

  it("rejects invalid numbers when encoding", () => {
    const bad: ClientFrame[] = [
      { requestId: -1, request: { type: "health" } },
      { requestId: 2 ** 32, request: { type: "health" } },
      { requestId: 1.5, request: { type: "health" } },
      { requestId: 1, request: { type: "ack", ack: { upToSeq: 2 ** 53 } } },
      { requestId: 1, request: { type: "ack", ack: { upToSeq: -1 } } },
      {
        requestId: 1,
        request: { type: "fetch", fetch: { afterSeq: 0, limit: Number.NaN, channelId: new Uint8Array(0) } },
      },
      { requestId: 1, request: { type: "hello", hello: { minVersion: 0x10000, maxVersion: 1, client: "" } } },
      { requestId: 1, request: { type: "nope" } as unknown as ClientFrame["request"] },
    ];
    for (const frame of bad) {
      expect(() => encodeClientFrame(frame)).toThrow(QpqError);
    }
    expect(() =>
      encodeServerFrame({
        type: "response",
        response: { requestId: 1, result: { type: "enqueue", enqueue: { seq: -5 } } },
      }),
    ).toThrow(QpqError);
  });

  it("reads structs written by an older peer (smaller sections) with defaults", () => {
    // A FetchRequest struct of one data word and no pointers (afterSeq only, no limit, no channelId)
    // reads limit as 0 and the channel as empty.
    const bytes = encodeClientFrame({
      requestId: 1,
      request: { type: "fetch", fetch: { afterSeq: 7, limit: 99, channelId: new Uint8Array(0) } },
    });
    const patched = bytes.slice();
    // FetchRequest pointer is the ClientFrame's pointer at byte 24: data words u16 at byte 28, pointers at 30.
    expect(dv(patched).getUint16(28, true)).toBe(2);
    dv(patched).setUint16(28, 1, true);
    dv(patched).setUint16(30, 0, true);
    expect(decodeClientFrame(patched).request).toEqual({
      type: "fetch",
      fetch: { afterSeq: 7, limit: 0, channelId: new Uint8Array(0) },
    });
  });

  it("rejects Text that is not valid UTF-8 or not NUL-terminated", () => {
    const bytes = encodeClientFrame({
      requestId: 8,
      request: { type: "resolveUser", resolveUser: { username: "abc" } },
    });
    const textAt = bytes.byteLength - 8; // the text is the last word: "abc\0" + padding
    const bad = bytes.slice();
    bad[textAt] = 0xff;
    expect(decodeError(() => decodeClientFrame(bad)).requestId).toBe(8);
    const unterminated = bytes.slice();
    unterminated[textAt + 3] = 0x21;
    expect(decodeError(() => decodeClientFrame(unterminated)).code).toBe(ErrorCode.MalformedFrame);
  });

  it("rejects a Data field that points to a struct", () => {
    const bytes = encodeClientFrame({
      requestId: 6,
      request: { type: "resumeSession", resumeSession: { sessionToken: new Uint8Array(8) } },
    });
    const patched = bytes.slice();
    // ResumeSessionRequest at word 3 holds one pointer (byte 32); make it a struct pointer of one data word.
    dv(patched).setUint32(32, dv(patched).getUint32(32, true) & ~3, true);
    dv(patched).setUint32(36, 1, true);
    expect(decodeError(() => decodeClientFrame(patched)).code).toBe(ErrorCode.MalformedFrame);
  });
});
