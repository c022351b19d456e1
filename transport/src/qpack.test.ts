import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { H3, H3Error } from "./errors.ts";
import { huffmanDecode, huffmanEncode, HuffmanError } from "./huffman.ts";
import { decodeFieldSection, encodeFieldSection, type FieldLine } from "./qpack.ts";

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ""), "hex"));
const text = (b: Uint8Array): string => Buffer.from(b).toString("latin1");

// RFC 7541 Appendix C.4 and C.6: Huffman-coded strings (QPACK uses the same code).
const VECTORS: Array<[string, string]> = [
  ["f1e3 c2e5 f23a 6ba0 ab90 f4ff", "www.example.com"],
  ["a8eb 1064 9cbf", "no-cache"],
  ["25a8 49e9 5ba9 7d7f", "custom-key"],
  ["25a8 49e9 5bb8 e8b4 bf", "custom-value"],
  ["6402", "302"],
  ["aec3 771a 4b", "private"],
  ["d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff", "Mon, 21 Oct 2013 20:13:21 GMT"],
  ["9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3", "https://www.example.com"],
];

describe("Huffman", () => {
  it("decodes and encodes the RFC 7541 vectors", () => {
    for (const [code, plain] of VECTORS) {
      expect(text(huffmanDecode(hex(code)))).toBe(plain);
      expect(Buffer.from(huffmanEncode(Buffer.from(plain))).toString("hex")).toBe(code.replace(/\s/g, ""));
    }
  });

  it("round-trips any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        expect(huffmanDecode(huffmanEncode(b))).toEqual(b);
      }),
    );
  });

  it("rejects bad padding and EOS", () => {
    expect(() => huffmanDecode(Uint8Array.from([0x00]))).toThrow(HuffmanError); // '0' + padding of zeros
    expect(() => huffmanDecode(Uint8Array.from([0xff, 0xff, 0xff, 0xff]))).toThrow(HuffmanError); // EOS
    expect(() => huffmanDecode(Uint8Array.from([0x1f, 0xff]))).toThrow(HuffmanError); // 8+ bits of padding
  });
});

describe("QPACK field sections", () => {
  it("round-trips static matches, name references and literal names", () => {
    const fields: FieldLine[] = [
      [":method", "CONNECT"],
      [":scheme", "https"],
      [":authority", "example.org:4433"],
      [":path", "/wt?token=abc"],
      [":protocol", "webtransport"],
      ["origin", "https://example.org"],
      ["x-long", "v".repeat(300)],
      ["x-" + "n".repeat(200), ""],
    ];
    expect(decodeFieldSection(encodeFieldSection(fields), 64 * 1024)).toEqual(fields);
    expect(Buffer.from(encodeFieldSection([[":status", "200"]])).toString("hex")).toBe("0000d9");
  });

  it("decodes Huffman-coded names and values", () => {
    const section = Uint8Array.from([
      0x00,
      0x00,
      0xcf, // indexed static 15 :method CONNECT
      0x50,
      0x8c,
      ...hex(VECTORS[0]![0]), // name ref :authority, Huffman value www.example.com
      0x2f,
      0x01,
      ...hex(VECTORS[2]![0]), // literal Huffman name custom-key (length 8 = 7 + 1)
      0x89,
      ...hex(VECTORS[3]![0]), // Huffman value custom-value
    ]);
    expect(decodeFieldSection(section, 4096)).toEqual([
      [":method", "CONNECT"],
      [":authority", "www.example.com"],
      ["custom-key", "custom-value"],
    ]);
  });

  const failsWith = (bytes: number[], code: number = H3.QPACK_DECOMPRESSION_FAILED): void => {
    let err: unknown;
    try {
      decodeFieldSection(Uint8Array.from(bytes), 4096);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(H3Error);
    expect((err as H3Error).code).toBe(code);
  };

  it("rejects dynamic table use, bad indexes, truncation and oversize", () => {
    failsWith([0x01, 0x00]); // Required Insert Count 1
    failsWith([0x00, 0x00, 0x80]); // indexed, dynamic
    failsWith([0x00, 0x00, 0x10]); // indexed post-base
    failsWith([0x00, 0x00, 0x00]); // literal post-base name ref
    failsWith([0x00, 0x00, 0x40, 0x00]); // literal with dynamic name ref
    failsWith([0x00, 0x00, 0xff, 0x24]); // static index 99
    failsWith([0x00, 0x00, 0x51, 0x05, 0x61]); // value longer than the section
    failsWith([0x00, 0x00, 0x51, 0x81, 0x00]); // Huffman value with bad padding
    failsWith([0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]); // integer overflow
    expect(() => decodeFieldSection(encodeFieldSection([["x", "y".repeat(100)]]), 64)).toThrow(H3Error);
  });

  it("never throws anything but H3Error on arbitrary input", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeFieldSection(bytes, 2048);
        } catch (err) {
          expect(err).toBeInstanceOf(H3Error);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
