/**
 * Reads the clear-text framing of an MLS message (RFC 9420 section 6): protocol version, wire format
 * and, for PublicMessage and PrivateMessage, the group id, epoch and content type. That is all the
 * gateway may know of a group message, and all it needs to enforce one commit per epoch (RFC 9750);
 * it never decrypts or verifies anything. Lengths are MLS variable-length integers (section 2.1.2).
 */

export class FramingError extends Error {
  override readonly name = "FramingError";
}

export const WireFormat = {
  publicMessage: 1,
  privateMessage: 2,
  welcome: 3,
  groupInfo: 4,
  keyPackage: 5,
} as const;

export type ContentType = "application" | "proposal" | "commit";

export type MlsFraming =
  | {
      kind: "group";
      wireFormat: typeof WireFormat.publicMessage | typeof WireFormat.privateMessage;
      groupId: Uint8Array;
      epoch: number;
      contentType: ContentType;
    }
  | { kind: "welcome" }
  /** GroupInfo, KeyPackage, or a wire format from a later MLS extension. */
  | { kind: "other"; wireFormat: number };

const MLS10 = 1;
const CONTENT_TYPES: Record<number, ContentType> = { 1: "application", 2: "proposal", 3: "commit" };
/** Sender types (RFC 9420 section 6): member and external carry a 4-byte index, the others nothing. */
const SENDER_INDEX_BYTES: Record<number, number> = { 1: 4, 2: 4, 3: 0, 4: 0 };

class Reader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}

  private need(n: number): void {
    if (this.at + n > this.bytes.length) throw new FramingError("truncated MLS message");
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.at++]!;
  }

  u16(): number {
    return (this.u8() << 8) | this.u8();
  }

  /** A uint64 as a number; epochs beyond 2^53 are refused rather than rounded. */
  u64(): number {
    const hi = this.u16() * 0x10000 + this.u16();
    const lo = this.u16() * 0x10000 + this.u16();
    if (hi > 0x1f_ffff) throw new FramingError("epoch beyond 2^53");
    return hi * 0x1_0000_0000 + lo;
  }

  /** RFC 9420 section 2.1.2: the top two bits give the length (1, 2 or 4 bytes); minimal encoding only. */
  varint(): number {
    const first = this.u8();
    const prefix = first >> 6;
    if (prefix === 3) throw new FramingError("invalid variable-length integer prefix");
    let value = first & 0x3f;
    const extra = prefix === 0 ? 0 : prefix === 1 ? 1 : 3;
    for (let i = 0; i < extra; i++) value = value * 256 + this.u8();
    const min = prefix === 0 ? 0 : prefix === 1 ? 64 : 16384;
    if (value < min) throw new FramingError("variable-length integer is not minimally encoded");
    return value;
  }

  /** opaque<V>: a varint length, then that many bytes (copied). */
  vector(): Uint8Array {
    const length = this.varint();
    this.need(length);
    const out = this.bytes.slice(this.at, this.at + length);
    this.at += length;
    return out;
  }

  skip(n: number): void {
    this.need(n);
    this.at += n;
  }
}

function contentType(value: number): ContentType {
  const type = CONTENT_TYPES[value];
  if (!type) throw new FramingError(`unknown content type ${value}`);
  return type;
}

/** Throws FramingError for anything that is not an MLS 1.0 message with a readable header. */
export function parseMlsFraming(bytes: Uint8Array): MlsFraming {
  const r = new Reader(bytes);
  const version = r.u16();
  if (version !== MLS10) throw new FramingError(`unsupported MLS version ${version}`);
  const wireFormat = r.u16();
  if (wireFormat === WireFormat.privateMessage) {
    // PrivateMessage: group_id<V>, epoch, content_type, then authenticated data and ciphertexts.
    const groupId = r.vector();
    const epoch = r.u64();
    return { kind: "group", wireFormat, groupId, epoch, contentType: contentType(r.u8()) };
  }
  if (wireFormat === WireFormat.publicMessage) {
    // FramedContent: group_id<V>, epoch, sender, authenticated_data<V>, content_type.
    const groupId = r.vector();
    const epoch = r.u64();
    const senderType = r.u8();
    const indexBytes = SENDER_INDEX_BYTES[senderType];
    if (indexBytes === undefined) throw new FramingError(`unknown sender type ${senderType}`);
    r.skip(indexBytes);
    r.vector();
    return { kind: "group", wireFormat, groupId, epoch, contentType: contentType(r.u8()) };
  }
  if (wireFormat === WireFormat.welcome) return { kind: "welcome" };
  if (wireFormat === 0) throw new FramingError("reserved wire format 0");
  return { kind: "other", wireFormat };
}
