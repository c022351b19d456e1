/**
 * Framing: every message travels as a 4-byte little-endian length followed by that many bytes of one
 * unpacked Cap'n Proto message (segment table + segments). Streams carry any number of frames back to back.
 */
import { ErrorCode, QpqError } from "./errors.ts";
import { DecodeError } from "./decodeError.ts";
import { resolveFrameLimits, type FrameLimits } from "./limits.ts";

export const FRAME_HEADER_BYTES = 4;

/** Length-prefixes one encoded message. */
export function encodeFrame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + message.byteLength);
  writeLength(out, 0, message.byteLength);
  out.set(message, FRAME_HEADER_BYTES);
  return out;
}

/** Length-prefixes several encoded messages into one chunk (one stream write). */
export function encodeFrames(messages: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const m of messages) total += FRAME_HEADER_BYTES + m.byteLength;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const m of messages) {
    writeLength(out, offset, m.byteLength);
    out.set(m, offset + FRAME_HEADER_BYTES);
    offset += FRAME_HEADER_BYTES + m.byteLength;
  }
  return out;
}

function writeLength(out: Uint8Array, offset: number, length: number): void {
  if (length > 0xffff_ffff)
    throw new QpqError(ErrorCode.FrameTooLarge, `frame of ${length} bytes does not fit the length prefix`);
  out[offset] = length & 0xff;
  out[offset + 1] = (length >>> 8) & 0xff;
  out[offset + 2] = (length >>> 16) & 0xff;
  out[offset + 3] = length >>> 24;
}

/**
 * Incremental frame splitter: push chunks of any size, get every completed frame's message bytes back.
 * A declared length above `maxFrameBytes` fails immediately, before anything is buffered; after any
 * failure the decoder stays failed (the stream is out of sync). Frames that lie wholly inside one pushed
 * chunk are returned as views into that chunk (no copy); frames spanning chunks are assembled into a
 * buffer of exactly the declared length.
 */
export class FrameDecoder {
  private readonly maxFrameBytes: number;
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private headerFill = 0;
  private current: Uint8Array | null = null;
  private currentFill = 0;
  private failure: DecodeError | null = null;

  constructor(limits?: Partial<FrameLimits>) {
    this.maxFrameBytes = resolveFrameLimits(limits).maxFrameBytes;
  }

  /** Bytes of an incomplete frame (header included) held until more data arrives. */
  get bufferedBytes(): number {
    return this.current === null ? this.headerFill : FRAME_HEADER_BYTES + this.currentFill;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failure) throw this.failure;
    const frames: Uint8Array[] = [];
    const n = chunk.byteLength;
    let i = 0;
    while (i < n) {
      const current = this.current;
      if (current !== null) {
        const take = Math.min(current.byteLength - this.currentFill, n - i);
        current.set(chunk.subarray(i, i + take), this.currentFill);
        this.currentFill += take;
        i += take;
        if (this.currentFill === current.byteLength) {
          frames.push(current);
          this.current = null;
          this.currentFill = 0;
        }
        continue;
      }
      let length: number;
      if (this.headerFill === 0 && n - i >= FRAME_HEADER_BYTES) {
        length = readLength(chunk, i);
        i += FRAME_HEADER_BYTES;
      } else {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerFill, n - i);
        this.header.set(chunk.subarray(i, i + take), this.headerFill);
        this.headerFill += take;
        i += take;
        if (this.headerFill < FRAME_HEADER_BYTES) break;
        this.headerFill = 0;
        length = readLength(this.header, 0);
      }
      if (length > this.maxFrameBytes) {
        this.failure = new DecodeError(
          ErrorCode.FrameTooLarge,
          `frame declares ${length} bytes, limit is ${this.maxFrameBytes}`,
        );
        throw this.failure;
      }
      if (n - i >= length) {
        frames.push(chunk.subarray(i, i + length));
        i += length;
      } else {
        const buffer = new Uint8Array(length);
        buffer.set(chunk.subarray(i));
        this.current = buffer;
        this.currentFill = n - i;
        i = n;
      }
    }
    return frames;
  }

  /** Call at end of stream: throws MalformedFrame when a frame was cut off. */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.bufferedBytes > 0) {
      this.failure = new DecodeError(
        ErrorCode.MalformedFrame,
        `stream ended inside a frame (${this.bufferedBytes} bytes buffered)`,
      );
      throw this.failure;
    }
  }
}

function readLength(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>>
    0
  );
}

export interface ReadFramesOptions {
  /** Aborting stops the iteration: the stream is cancelled and the loop ends without an error. */
  signal?: AbortSignal;
}

/**
 * Yields the message bytes of every frame on `readable` until it ends. Throws DecodeError (FrameTooLarge,
 * or MalformedFrame when the stream ends inside a frame) and whatever the stream itself errors with.
 * Leaving the loop early, a framing error or aborting `options.signal` cancels the stream.
 */
export async function* readFrames(
  readable: ReadableStream<Uint8Array>,
  limits?: Partial<FrameLimits>,
  options?: ReadFramesOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  const decoder = new FrameDecoder(limits);
  const reader = readable.getReader();
  const signal = options?.signal;
  let finished = false;
  let failure: unknown = undefined;
  const onAbort = (): void => {
    reader.cancel(signal?.reason).catch(() => undefined);
  };
  if (signal?.aborted) onAbort();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        if (!signal?.aborted) decoder.end();
        return;
      }
      for (const frame of decoder.push(value)) {
        yield frame;
        if (signal?.aborted) return;
      }
    }
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (!finished) reader.cancel(failure).catch(() => undefined);
    reader.releaseLock();
  }
}
