/**
 * Retry tokens (RFC 9000 §8.1.2): what a client echoes in its second Initial to prove it receives
 * packets at the address it claims. Stateless on purpose: a server under a flood of spoofed Initials
 * must not keep anything per Initial, so everything it needs later (the client's original destination
 * connection id, RFC 9000 §7.3) travels inside the token, authenticated with a secret of this process.
 *
 * Layout: magic (1) | issued at, ms (6) | odcid length (1) | odcid | HMAC-SHA256 (32). The MAC also
 * covers the client's IP and the connection id the Retry told it to use, so a token seen on the wire
 * is useless from another address or on another connection attempt. The port is left out: a NAT may
 * rebind between the Retry and the next Initial, and the IP is what per-address limits count anyway.
 */
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";

const MAGIC = 0x51;
const HEAD = 1 + 6 + 1;
const MAC_LEN = 32;
const MAX_CID = 20;
/** One round trip is all a client needs; seconds of slack cover slow paths, not replays. */
export const RETRY_TOKEN_LIFETIME_MS = 10_000;

export type TokenCheck =
  /** The Initial carried no token of ours: an unvalidated address. */
  | { kind: "none" }
  /** Ours, but tampered, expired, or minted for another address or connection id: drop. */
  | { kind: "invalid" }
  | { kind: "valid"; odcid: Uint8Array };

export class RetryTokens {
  /** Random per endpoint: a restart invalidates tokens in flight, which costs those clients a retry. */
  private readonly secret: KeyObject = createSecretKey(randomBytes(32));

  constructor(
    private readonly lifetimeMs = RETRY_TOKEN_LIFETIME_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** `retryScid` is the connection id the Retry packet gives the client (its next Initial's DCID). */
  mint(address: string, odcid: Uint8Array, retryScid: Uint8Array): Buffer {
    if (odcid.length > MAX_CID) throw new RangeError("connection id too long");
    const head = Buffer.alloc(HEAD + odcid.length);
    head[0] = MAGIC;
    head.writeUIntBE(Math.floor(this.now()), 1, 6);
    head[7] = odcid.length;
    head.set(odcid, HEAD);
    return Buffer.concat([head, this.mac(head, address, retryScid)]);
  }

  /** `dcid` is the destination connection id of the Initial that carries the token. */
  check(token: Uint8Array | undefined, address: string, dcid: Uint8Array): TokenCheck {
    // Tokens that are not ours (none, or a format we never issue) leave the address unvalidated; a
    // Retry may follow. Only something that claims to be ours and fails is treated as an attack.
    if (!token || token.length === 0 || token[0] !== MAGIC) return { kind: "none" };
    const buf = Buffer.from(token.buffer, token.byteOffset, token.byteLength);
    const odcidLen = buf[7];
    if (odcidLen === undefined || odcidLen > MAX_CID || buf.length !== HEAD + odcidLen + MAC_LEN) {
      return { kind: "invalid" };
    }
    const head = buf.subarray(0, HEAD + odcidLen);
    const expected = this.mac(head, address, dcid);
    if (!timingSafeEqual(expected, buf.subarray(HEAD + odcidLen))) return { kind: "invalid" };
    const age = this.now() - buf.readUIntBE(1, 6);
    // A token from the future can only come from a clock step; refusing it is the safe side.
    if (age < -1000 || age > this.lifetimeMs) return { kind: "invalid" };
    return { kind: "valid", odcid: Uint8Array.from(head.subarray(HEAD)) };
  }

  /** One buffer, one update: under a flood this runs per Initial, and each call into C++ counts. */
  private mac(head: Uint8Array, address: string, retryScid: Uint8Array): Buffer {
    const input = Buffer.allocUnsafe(head.length + 2 + address.length * 3 + retryScid.length);
    input.set(head);
    let at = head.length;
    const ipLen = input.write(address, at + 1, "utf8");
    input[at] = ipLen;
    at += 1 + ipLen;
    input[at++] = retryScid.length;
    input.set(retryScid, at);
    return createHmac("sha256", this.secret)
      .update(input.subarray(0, at + retryScid.length))
      .digest();
  }
}
