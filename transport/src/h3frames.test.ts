import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { H3, H3Error } from "./errors.ts";
import {
  CapsuleReader,
  CapsuleType,
  encodeCapsule,
  encodeCloseCapsule,
  encodeFrame,
  encodeSettings,
  FrameReader,
  FrameType,
  parseCloseCapsule,
  parseSettings,
  type H3Frame,
} from "./h3frames.ts";
import { encodeVarints } from "./varint.ts";

/** Feeds `chunks` and collects frames, merging DATA pieces; returns the first error if any. */
function readAll(reader: FrameReader, chunks: Uint8Array[]): { frames: H3Frame[]; error?: H3Error } {
  const frames: H3Frame[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    for (;;) {
      const r = reader.next();
      if (!r) break;
      if (!r.ok) return { frames, error: r.error };
      const last = frames[frames.length - 1];
      if (r.value.type === FrameType.DATA && last?.type === FrameType.DATA && last.payload.length > 0) {
        last.payload = Uint8Array.from([...last.payload, ...r.value.payload]);
      } else {
        frames.push({ type: r.value.type, payload: Uint8Array.from(r.value.payload) });
      }
    }
  }
  return { frames };
}

describe("HTTP/3 frames", () => {
  const stream = Buffer.concat([
    encodeSettings(
      new Map([
        [0x01, 0],
        [0x33, 1],
        [0xc671706a, 16],
      ]),
    ),
    encodeFrame(0x21, new Uint8Array(5000)), // GREASE frame type 0x1f*0+0x21: skipped
    encodeFrame(FrameType.HEADERS, Uint8Array.from([0, 0, 0xd9])),
    encodeFrame(FrameType.DATA, Uint8Array.from([1, 2, 3, 4, 5])),
    encodeFrame(FrameType.GOAWAY, encodeVarints(8)),
  ]);

  it("parses a frame sequence whole and split at every byte", () => {
    const whole = readAll(new FrameReader(1024), [stream]);
    expect(whole.error).toBeUndefined();
    expect(whole.frames.map((f) => f.type)).toEqual([
      FrameType.SETTINGS,
      FrameType.HEADERS,
      FrameType.DATA,
      FrameType.GOAWAY,
    ]);
    expect(parseSettings(whole.frames[0]!.payload)).toEqual({
      ok: true,
      value: new Map([
        [1, 0],
        [0x33, 1],
        [0xc671706a, 16],
      ]),
    });
    const bytes = [...stream].map((b) => Uint8Array.of(b));
    expect(readAll(new FrameReader(1024), bytes)).toEqual(whole);
  });

  it("reports oversize and HTTP/2-only frames as typed errors", () => {
    expect(
      readAll(new FrameReader(10), [encodeFrame(FrameType.HEADERS, new Uint8Array(11))]).error?.code,
    ).toBe(H3.EXCESSIVE_LOAD);
    expect(readAll(new FrameReader(10), [encodeFrame(0x02, new Uint8Array(1))]).error?.code).toBe(
      H3.FRAME_UNEXPECTED,
    );
  });

  it("rejects duplicate, HTTP/2 and truncated settings", () => {
    const dup = parseSettings(Uint8Array.from([0x01, 0x00, 0x01, 0x00]));
    expect(dup.ok ? null : dup.error.code).toBe(H3.SETTINGS_ERROR);
    const h2 = parseSettings(Uint8Array.from([0x02, 0x00]));
    expect(h2.ok ? null : h2.error.code).toBe(H3.SETTINGS_ERROR);
    const cut = parseSettings(Uint8Array.from([0x06]));
    expect(cut.ok ? null : cut.error.code).toBe(H3.FRAME_ERROR);
  });

  it("returns frames or a typed error for any bytes in any split, never throws", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }),
        fc.nat(2000),
        (chunks, max) => {
          const { frames, error } = readAll(new FrameReader(max), chunks);
          if (error) expect(error).toBeInstanceOf(H3Error);
          for (const f of frames) if (f.type === FrameType.SETTINGS) parseSettings(f.payload);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe("capsules", () => {
  it("round-trips the close capsule and truncates long reasons at a character boundary", () => {
    const reader = new CapsuleReader(2048);
    reader.push(encodeCapsule(0x1234, new Uint8Array(3000))); // unknown type: skipped unbuffered
    reader.push(encodeCloseCapsule(42, "bye ✓"));
    reader.push(encodeCapsule(CapsuleType.DRAIN_WEBTRANSPORT_SESSION, new Uint8Array(0)));
    const first = reader.next();
    expect(first?.ok && first.value.type).toBe(CapsuleType.CLOSE_WEBTRANSPORT_SESSION);
    expect(first?.ok && parseCloseCapsule(first.value.value)).toEqual({ code: 42, reason: "bye ✓" });
    const second = reader.next();
    expect(second?.ok && second.value.type).toBe(CapsuleType.DRAIN_WEBTRANSPORT_SESSION);
    expect(reader.next()).toBeNull();

    const long = new CapsuleReader(2048);
    long.push(encodeCloseCapsule(1, "é".repeat(600)));
    const r = long.next();
    const reason = r?.ok ? parseCloseCapsule(r.value.value)?.reason : undefined;
    expect(reason).toBe("é".repeat(512));
    expect(parseCloseCapsule(new Uint8Array(3))).toBeNull();
  });

  it("never throws on arbitrary capsule bytes", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
        const reader = new CapsuleReader(1028);
        for (const c of chunks) {
          reader.push(c);
          for (let r = reader.next(); r; r = reader.next()) {
            if (!r.ok) return;
            parseCloseCapsule(r.value.value);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });
});
