import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodeClientFrame, decodeServerFrame, encodeClientFrame, encodeServerFrame } from "./codec.ts";
import { QpqError } from "./errors.ts";
import { FrameDecoder, encodeFrame } from "./frame.ts";
import type { ClientFrame } from "./messages.ts";
import { refDecodeClientFrame, refDecodeServerFrame } from "./testing/referenceCodec.ts";
import { sampleClientFrames, sampleServerFrames } from "./testing/samples.ts";
import { arbitraryEnvelope, arbitraryRequest } from "./testing/arbitraries.ts";

const limits = { maxFrameBytes: 64 * 1024, maxSegments: 8 };

/** Decoding must either succeed or throw QpqError: never another exception, never a crash or hang. */
function onlyQpqErrors(f: () => unknown): void {
  try {
    f();
  } catch (error) {
    if (!(error instanceof QpqError)) throw error;
  }
}

function decodeAll(message: Uint8Array, withReference: boolean): void {
  onlyQpqErrors(() => decodeClientFrame(message, limits));
  onlyQpqErrors(() => decodeServerFrame(message, limits));
  if (withReference) {
    // The capnp-es path behind the guard must be just as robust.
    onlyQpqErrors(() => refDecodeClientFrame(message, limits));
    onlyQpqErrors(() => refDecodeServerFrame(message, limits));
  }
}

/** Feeds a byte stream through FrameDecoder in the given chunk sizes and decodes every frame. */
function feed(stream: Uint8Array, cuts: number[], withReference: boolean): void {
  const decoder = new FrameDecoder(limits);
  let at = 0;
  for (const cut of [...cuts, stream.byteLength]) {
    const end = Math.min(stream.byteLength, at + cut);
    let frames: Uint8Array[];
    try {
      frames = decoder.push(stream.subarray(at, end));
    } catch (error) {
      if (!(error instanceof QpqError)) throw error;
      return;
    }
    for (const frame of frames) decodeAll(frame, withReference);
    at = end;
    if (at >= stream.byteLength) break;
  }
  onlyQpqErrors(() => decoder.end());
}

// A pointer word that is plausible more often than random bytes: small offsets, all kinds.
const pointerWord = fc.oneof(
  fc
    .tuple(fc.integer({ min: -4, max: 8 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }))
    .map(([off, dw, pw]) => [(off << 2) >>> 0, dw | (pw << 16)] as const),
  fc
    .tuple(fc.integer({ min: -4, max: 8 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 40 }))
    .map(([off, size, count]) => [((off << 2) | 1) >>> 0, (size | (count << 3)) >>> 0] as const),
  fc
    .tuple(fc.integer({ min: 0, max: 8 }), fc.boolean(), fc.integer({ min: 0, max: 3 }))
    .map(([pad, double, seg]) => [((pad << 3) | (double ? 6 : 2)) >>> 0, seg] as const),
  fc
    .tuple(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: 0xffff_ffff }))
    .map(([lo, hi]) => [lo, hi] as const),
  fc.constant([0, 0] as const),
);

/** Messages with a consistent segment table and plausible words (often a sensible root pointer). */
const plausibleMessage = fc
  .tuple(
    fc.array(fc.array(pointerWord, { minLength: 0, maxLength: 12 }), { minLength: 1, maxLength: 4 }),
    fc.boolean(),
  )
  .map(([segments, lie]) => {
    if (segments[0]!.length === 0) segments[0]!.push([0, 1 << 16]);
    const headerBytes = (4 + 4 * segments.length + 7) & ~7;
    const words = segments.reduce((n, s) => n + s.length, 0);
    const out = new Uint8Array(headerBytes + words * 8);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, segments.length - 1, true);
    let at = headerBytes;
    segments.forEach((s, i) => {
      dv.setUint32(4 + 4 * i, s.length + (lie && i === 0 ? 1 : 0), true);
      for (const [lo, hi] of s) {
        dv.setUint32(at, lo, true);
        dv.setUint32(at + 4, hi, true);
        at += 8;
      }
    });
    return out;
  });

const validMessages = [
  ...sampleClientFrames.map(([, f]) => encodeClientFrame(f)),
  ...sampleServerFrames.map(([, f]) => encodeServerFrame(f)),
];

/** A valid message with a few bytes overwritten, bits flipped, or cut/extended. */
const mutatedMessage = fc
  .tuple(
    fc.integer({ min: 0, max: validMessages.length - 1 }),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()), {
      minLength: 1,
      maxLength: 6,
    }),
    fc.integer({ min: -16, max: 16 }),
  )
  .map(([i, edits, resize]) => {
    const source = validMessages[i]!;
    const length = Math.max(0, source.byteLength + (Math.abs(resize) < 12 ? 0 : resize));
    const out = new Uint8Array(length);
    out.set(source.subarray(0, Math.min(length, source.byteLength)));
    for (const [pos, value, flip] of edits) {
      if (length === 0) break;
      const p = pos % length;
      out[p] = flip ? out[p]! ^ (1 << (value & 7)) : value;
    }
    return out;
  });

const cuts = fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 8 });

describe("fuzz: decoding untrusted bytes gives frames or QpqError, nothing else", () => {
  it("arbitrary bytes as a stream", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), cuts, (bytes, c) => feed(bytes, c, false)),
      { seed: 0x5eed, numRuns: 2000 },
    );
  });

  it("arbitrary bytes as a message", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => decodeAll(bytes, true)),
      { seed: 0x5eed + 1, numRuns: 2000 },
    );
  });

  it("plausible segment tables and pointers, framed and chunked", () => {
    fc.assert(
      fc.property(plausibleMessage, cuts, (message, c) => feed(encodeFrame(message), c, true)),
      { seed: 0x5eed + 2, numRuns: 2000 },
    );
  });

  it("mutations of valid frames", () => {
    fc.assert(
      fc.property(mutatedMessage, cuts, (message, c) => feed(encodeFrame(message), c, true)),
      { seed: 0x5eed + 3, numRuns: 2000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const request = arbitraryRequest;
const envelope = arbitraryEnvelope;

describe("fuzz: generated frames round-trip and match the capnp-es generated code", () => {
  it("ClientFrame", () => {
    fc.assert(
      fc.property(u32, request, (requestId, req) => {
        const frame: ClientFrame = { requestId, request: req };
        const bytes = encodeClientFrame(frame);
        expect(decodeClientFrame(bytes)).toEqual(frame);
        expect(refDecodeClientFrame(bytes)).toEqual(frame);
      }),
      { seed: 0x5eed + 4, numRuns: 500 },
    );
  });

  it("fetch responses and pushes", () => {
    fc.assert(
      fc.property(u32, fc.array(envelope, { maxLength: 6 }), fc.boolean(), (requestId, envelopes, more) => {
        const frames = [
          {
            type: "response" as const,
            response: { requestId, result: { type: "fetch" as const, fetch: { envelopes, more } } },
          },
          ...envelopes.map((e) => ({
            type: "push" as const,
            push: { type: "envelope" as const, envelope: e },
          })),
        ];
        for (const frame of frames) {
          const bytes = encodeServerFrame(frame);
          expect(decodeServerFrame(bytes)).toEqual(frame);
          expect(refDecodeServerFrame(bytes)).toEqual(frame);
        }
      }),
      { seed: 0x5eed + 5, numRuns: 300 },
    );
  });
});
