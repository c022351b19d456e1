import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { fromBase64Url, fromHex, toBase64, toBase64Url, toHex, constantTimeEqual } from "./bytes.ts";

describe("bytes", () => {
  it("base64url matches RFC 4648 test vectors", () => {
    const vectors: [string, string][] = [
      ["", ""],
      ["f", "Zg"],
      ["fo", "Zm8"],
      ["foo", "Zm9v"],
      ["foob", "Zm9vYg"],
      ["fooba", "Zm9vYmE"],
      ["foobar", "Zm9vYmFy"],
    ];
    for (const [plain, encoded] of vectors) {
      expect(toBase64Url(new TextEncoder().encode(plain))).toBe(encoded);
      expect(new TextDecoder().decode(fromBase64Url(encoded))).toBe(plain);
    }
    expect(toBase64(new TextEncoder().encode("fo"))).toBe("Zm8=");
  });

  it("round-trips any bytes through base64url, base64 and hex", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(fromBase64Url(toBase64Url(bytes))).toEqual(bytes);
        expect(fromBase64Url(toBase64(bytes))).toEqual(bytes);
        expect(fromHex(toHex(bytes))).toEqual(bytes);
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it("rejects invalid base64", () => {
    expect(() => fromBase64Url("ab$d")).toThrow();
    expect(() => fromBase64Url("a")).toThrow();
  });

  it("compares in constant time by content", () => {
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array([1]), new Uint8Array([1, 3]))).toBe(false);
  });
});
