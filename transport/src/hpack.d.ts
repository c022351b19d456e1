// hpack.js ships no types; we only use its table of the RFC 7541 Appendix B code: [bit length, code].
declare module "hpack.js" {
  const hpack: { huffman: { encode: Array<[number, number]> } };
  export default hpack;
}
