import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { encodeVarint, encodeVarints, readVarint, varintLength } from "./varint.ts";
import { httpCodeToWt, wtCodeToHttp } from "./errors.ts";

describe("varint", () => {
  it("encodes the RFC 9000 §A.1 examples", () => {
    // Beyond 2^53 we can read (approximately: only GREASE ids are that large) but not write.
    expect(readVarint(Uint8Array.from(Buffer.from("c2197c5eff14e88c", "hex")), 0)?.value).toBe(
      Number(151288809941952652n),
    );
    expect(Buffer.from(encodeVarint(494878333)).toString("hex")).toBe("9d7f3e7d");
    expect(Buffer.from(encodeVarint(15293)).toString("hex")).toBe("7bbd");
    expect(Buffer.from(encodeVarint(37)).toString("hex")).toBe("25");
    expect(readVarint(Uint8Array.from([0x40, 0x25]), 0)).toEqual({ value: 37, next: 2 });
  });

  it("round-trips boundaries and random safe integers", () => {
    for (const v of [0, 63, 64, 16383, 16384, 2 ** 30 - 1, 2 ** 30, Number.MAX_SAFE_INTEGER]) {
      const enc = encodeVarint(v);
      expect(enc.length).toBe(varintLength(v));
      expect(readVarint(enc, 0)).toEqual({ value: v, next: enc.length });
    }
    fc.assert(
      fc.property(fc.array(fc.maxSafeNat(), { maxLength: 8 }), (values) => {
        const buf = encodeVarints(...values);
        let off = 0;
        for (const v of values) {
          const r = readVarint(buf, off);
          expect(r?.value).toBe(v);
          off = r?.next ?? -1;
        }
        expect(off).toBe(buf.length);
      }),
    );
  });

  it("asks for more bytes instead of reading past the end", () => {
    const enc = encodeVarint(2 ** 40);
    for (let cut = 0; cut < enc.length; cut++) expect(readVarint(enc.subarray(0, cut), 0)).toBeNull();
  });

  it("refuses values it cannot represent", () => {
    expect(() => encodeVarint(-1)).toThrow(RangeError);
    expect(() => encodeVarint(2 ** 62)).toThrow(RangeError);
  });
});

describe("WebTransport error code mapping", () => {
  it("round-trips application codes and skips GREASE code points", () => {
    for (const code of [0, 1, 0x1d, 0x1e, 0x1f, 1000, 0xffffffff])
      expect(httpCodeToWt(wtCodeToHttp(code))).toBe(code);
    expect(wtCodeToHttp(0)).toBe(0x52e4a40fa8db);
    expect(wtCodeToHttp(0xffffffff)).toBe(0x52e5ac983162);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (code) => {
        const h = wtCodeToHttp(code);
        expect((h - 0x21) % 0x1f).not.toBe(0);
        expect(httpCodeToWt(h)).toBe(code);
      }),
    );
    expect(httpCodeToWt(0x100)).toBeNull();
  });
});
