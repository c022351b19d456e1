/**
 * The HPACK Huffman code (RFC 7541 Appendix B), which QPACK reuses for string literals. The code table
 * comes from hpack.js (a data table, not its decoder, whose tree format is opaque); the decoder here
 * walks a binary tree built from it, which is plenty for header blocks of a few hundred bytes.
 */
import hpack from "hpack.js";

const EOS = 256;
const CODES: ReadonlyArray<readonly [number, number]> = hpack.huffman.encode;

// Tree nodes as two child arrays: a child >= 0 is another node, a child < 0 is ~symbol, 0 means "none"
// (node 0 is the root, which is never anyone's child).
const left: number[] = [0];
const right: number[] = [0];

(function buildTree() {
  if (CODES.length !== 257) throw new Error("unexpected Huffman table size");
  CODES.forEach(([bits, code], symbol) => {
    let node = 0;
    for (let i = bits - 1; i >= 0; i--) {
      const bit = Math.floor(code / 2 ** i) % 2;
      const children = bit === 0 ? left : right;
      if (i === 0) {
        children[node] = ~symbol;
      } else {
        let child = children[node] as number;
        if (child === 0) {
          child = left.length;
          left.push(0);
          right.push(0);
          children[node] = child;
        }
        node = child;
      }
    }
  });
})();

export class HuffmanError extends Error {}

/** Decodes a Huffman-coded string; throws HuffmanError on EOS, bad padding or a dangling code. */
export function huffmanDecode(input: Uint8Array, maxOutput = Infinity): Uint8Array {
  const out: number[] = [];
  let node = 0;
  let depth = 0; // bits consumed since the last complete symbol
  let allOnes = true; // whether those bits were all 1 (valid padding is a prefix of EOS)
  for (const byte of input) {
    for (let i = 7; i >= 0; i--) {
      const bit = (byte >>> i) & 1;
      const next = (bit === 0 ? left[node] : right[node]) as number;
      if (next === 0) throw new HuffmanError("invalid Huffman code");
      depth++;
      if (bit === 0) allOnes = false;
      if (next < 0) {
        const symbol = ~next;
        if (symbol === EOS) throw new HuffmanError("EOS in Huffman string");
        out.push(symbol);
        if (out.length > maxOutput) throw new HuffmanError("Huffman string too long");
        node = 0;
        depth = 0;
        allOnes = true;
      } else {
        node = next;
      }
    }
  }
  if (depth > 7 || !allOnes) throw new HuffmanError("invalid Huffman padding");
  return Uint8Array.from(out);
}

/** Encodes with the Huffman code; only tests need it, our encoder sends literals raw. */
export function huffmanEncode(input: Uint8Array): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let accBits = 0;
  for (const byte of input) {
    const [bits, code] = CODES[byte] as readonly [number, number];
    for (let i = bits - 1; i >= 0; i--) {
      acc = (acc << 1) | (Math.floor(code / 2 ** i) % 2);
      if (++accBits === 8) {
        out.push(acc);
        acc = 0;
        accBits = 0;
      }
    }
  }
  if (accBits > 0) out.push(((acc << (8 - accBits)) | ((1 << (8 - accBits)) - 1)) & 0xff);
  return Uint8Array.from(out);
}
