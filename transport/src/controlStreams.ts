/**
 * Readers for the peer's critical unidirectional streams: the HTTP/3 control stream and the two QPACK
 * streams. Any violation is a connection error, reported through the host.
 */
import { H3 } from "./errors.ts";
import { FrameReader, FrameType, parseSettings, StreamType } from "./h3frames.ts";

export interface ControlHost {
  readonly role: "server" | "client";
  readonly isGone: boolean;
  connectionError(code: number, reason: string): void;
  onPeerSettings(settings: Map<number, number>): void;
}

/** The peer's control stream: SETTINGS first, then only control frames. */
export class ControlReader {
  private readonly frames = new FrameReader(16 * 1024);
  private gotSettings = false;

  constructor(private readonly h3: ControlHost) {}

  push(data: Uint8Array): void {
    this.frames.push(data);
    // Every complete frame now: each costs only its own bytes (FrameReader), so what one push holds is
    // parsed in time linear in it, and nothing is left behind to pile up into the next push.
    while (!this.h3.isGone) {
      const r = this.frames.next();
      if (!r) return;
      if (!r.ok) return this.h3.connectionError(r.error.code, r.error.message);
      const { type, payload } = r.value;
      if (!this.gotSettings) {
        if (type !== FrameType.SETTINGS)
          return this.h3.connectionError(H3.MISSING_SETTINGS, "first frame not SETTINGS");
        const s = parseSettings(payload);
        if (!s.ok) return this.h3.connectionError(s.error.code, s.error.message);
        this.gotSettings = true;
        this.h3.onPeerSettings(s.value);
        continue;
      }
      const server = this.h3.role === "server";
      if (
        type === FrameType.GOAWAY ||
        type === FrameType.CANCEL_PUSH ||
        (type === FrameType.MAX_PUSH_ID && server)
      )
        continue;
      return this.h3.connectionError(H3.FRAME_UNEXPECTED, `frame ${type} on control stream`);
    }
  }
}

/**
 * The peer's QPACK encoder/decoder stream. With a zero-capacity table the only legal instructions are
 * "Set Dynamic Table Capacity 0" (encoder) and "Stream Cancellation" (decoder).
 */
export class QpackReader {
  private buf: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly h3: ControlHost,
    private readonly type: number,
  ) {}

  push(data: Uint8Array): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    const encoder = this.type === StreamType.QPACK_ENCODER;
    const code = encoder ? H3.QPACK_ENCODER_STREAM_ERROR : H3.QPACK_DECODER_STREAM_ERROR;
    while (this.buf.length > 0) {
      const b = this.buf[0] as number;
      const prefix = encoder ? (b & 0xe0) === 0x20 && 5 : (b & 0xc0) === 0x40 && 6;
      if (!prefix) return this.h3.connectionError(code, "dynamic table instruction");
      let value = b & ((1 << prefix) - 1);
      let off = 1;
      if (value === (1 << prefix) - 1) {
        let more = true;
        for (let shift = 0; more; shift += 7) {
          const c = this.buf[off++];
          if (c === undefined) {
            if (this.buf.length > 16) return this.h3.connectionError(code, "integer too long");
            return;
          }
          value += (c & 0x7f) * 2 ** shift;
          more = (c & 0x80) !== 0;
          if (shift > 56) return this.h3.connectionError(code, "integer too long");
        }
      }
      if (encoder && value !== 0) return this.h3.connectionError(code, "dynamic table capacity above 0");
      this.buf = this.buf.subarray(off);
    }
  }
}
