// hpack.js ships no types; we only use its table of the RFC 7541 Appendix B code: [bit length, code].
declare module "hpack.js/lib/hpack/huffman.js" {
  const huffman: { encode: Array<[number, number]> };
  export default huffman;
}
