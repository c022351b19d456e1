import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeClientFrame, encodeClientFrame } from "./codec.ts";
import { DecodeError } from "./decodeError.ts";
import { ErrorCode } from "./errors.ts";
import { FrameDecoder, encodeFrame, encodeFrames, readFrames } from "./frame.ts";
import { FrameWriter } from "./frameWriter.ts";
import { sampleClientFrames } from "./testing/samples.ts";

const messages = sampleClientFrames.map(([, f]) => encodeClientFrame(f));

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
}

async function collect(iter: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const x of iter) out.push(x.slice());
  return out;
}

describe("framing", () => {
  it("encodeFrame writes a 4-byte little-endian length", () => {
    const frame = encodeFrame(new Uint8Array([9, 8, 7]));
    expect([...frame]).toEqual([3, 0, 0, 0, 9, 8, 7]);
    expect([...encodeFrame(new Uint8Array(0x1_0203).fill(1)).subarray(0, 4)]).toEqual([3, 2, 1, 0]);
    expect(encodeFrames(messages.slice(0, 3))).toEqual(concat(messages.slice(0, 3).map(encodeFrame)));
  });

  it("many frames in one chunk", () => {
    const stream = encodeFrames(messages);
    const decoder = new FrameDecoder();
    const frames = decoder.push(stream);
    expect(frames).toEqual(messages);
    expect(decoder.bufferedBytes).toBe(0);
    expect(frames.map((f) => decodeClientFrame(f))).toEqual(sampleClientFrames.map(([, f]) => f));
  });

  it("split at every byte boundary, and byte by byte", () => {
    const stream = encodeFrames(messages.slice(0, 4));
    for (let cut = 0; cut <= stream.byteLength; cut++) {
      const decoder = new FrameDecoder();
      const frames = [...decoder.push(stream.slice(0, cut)), ...decoder.push(stream.slice(cut))];
      expect(frames).toEqual(messages.slice(0, 4));
      decoder.end();
    }
    const decoder = new FrameDecoder();
    const frames: Uint8Array[] = [];
    for (let i = 0; i < stream.byteLength; i++) frames.push(...decoder.push(stream.subarray(i, i + 1)));
    expect(frames).toEqual(messages.slice(0, 4));
  });

  it("empty frames and empty chunks", () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(new Uint8Array(0))).toEqual([]);
    expect(decoder.push(new Uint8Array(8))).toEqual([new Uint8Array(0), new Uint8Array(0)]);
  });

  it("rejects a declared length above maxFrameBytes before buffering it", () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1000 });
    const header = new Uint8Array([0xe9, 0x03, 0, 0]); // 1001
    let error: unknown;
    try {
      decoder.push(header.subarray(0, 2));
      decoder.push(header.subarray(2));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as DecodeError).code).toBe(ErrorCode.FrameTooLarge);
    expect(decoder.bufferedBytes).toBe(0);
    // The stream is out of sync from now on.
    expect(() => decoder.push(new Uint8Array(1))).toThrow(DecodeError);
    // 4 GiB declared: still nothing allocated.
    expect(() => new FrameDecoder().push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1]))).toThrow(DecodeError);
    // Exactly the limit is fine.
    expect(new FrameDecoder({ maxFrameBytes: 16 }).push(encodeFrame(new Uint8Array(16)))).toHaveLength(1);
  });

  it("holds only the bytes received of an incomplete frame, not its declared length", () => {
    // 64 streams each announcing a 1 MiB frame and sending 10 bytes of it: allocating the declared
    // length up front would hold 64 MiB here.
    const header = new Uint8Array([0, 0, 0x10, 0]);
    const decoders: FrameDecoder[] = [];
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 64; i++) {
      const decoder = new FrameDecoder();
      decoder.push(header);
      decoder.push(new Uint8Array(10));
      decoders.push(decoder);
    }
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(grown).toBeLessThan(4 * 1024 * 1024);
    expect(decoders.every((d) => d.bufferedBytes === 14)).toBe(true);
    // And the frame still comes out whole once the rest arrives.
    const decoder = decoders[0]!;
    const frames = decoder.push(new Uint8Array(0x10_0000 - 10).fill(7));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.byteLength).toBe(0x10_0000);
    expect(frames[0]![0x10_0000 - 1]).toBe(7);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it("any chunking of a stream yields the same frames", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 40 }),
        (bodies, cuts) => {
          const stream = encodeFrames(bodies);
          const points = [...new Set(cuts.map((c) => Math.min(c, stream.byteLength)))].sort((a, b) => a - b);
          const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
          const frames: Uint8Array[] = [];
          let at = 0;
          for (const point of [...points, stream.byteLength]) {
            // Copies, so a piece kept as a view would show if it aliased a later chunk.
            frames.push(...decoder.push(stream.slice(at, point)).map((f) => f.slice()));
            at = point;
          }
          decoder.end();
          expect(frames).toEqual(bodies);
        },
      ),
    );
  });

  it("end() reports a frame cut off by the end of the stream", () => {
    const decoder = new FrameDecoder();
    decoder.push(encodeFrame(messages[0]!).subarray(0, 6));
    expect(decoder.bufferedBytes).toBe(6);
    expect(() => decoder.end()).toThrow(DecodeError);
  });

  it("readFrames yields every frame of a stream, however it is chunked", async () => {
    const stream = encodeFrames(messages);
    const chunks: Uint8Array[] = [];
    for (let i = 0, size = 1; i < stream.byteLength; i += size, size = (size * 7) % 97 || 1) {
      chunks.push(stream.slice(i, i + size));
    }
    expect(await collect(readFrames(streamOf(chunks)))).toEqual(messages);
  });

  it("readFrames throws on a truncated stream and on an oversized frame, cancelling the stream", async () => {
    await expect(collect(readFrames(streamOf([encodeFrame(messages[0]!).subarray(0, 9)])))).rejects.toThrow(
      DecodeError,
    );
    let cancelled: unknown;
    const endless = new ReadableStream<Uint8Array>({
      pull: (c) => c.enqueue(new Uint8Array([0xff, 0xff, 0xff, 0x7f])),
      cancel: (reason) => void (cancelled = reason),
    });
    await expect(collect(readFrames(endless))).rejects.toMatchObject({ code: ErrorCode.FrameTooLarge });
    expect(cancelled).toBeInstanceOf(DecodeError);
  });

  it("readFrames stops when its signal aborts", async () => {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    const controller = new AbortController();
    const seen: Uint8Array[] = [];
    const done = (async () => {
      for await (const f of readFrames(readable, undefined, { signal: controller.signal })) seen.push(f);
    })();
    void writer.write(encodeFrame(messages[0]!));
    await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    await done;
    expect(seen).toHaveLength(1);
  });
});

describe("FrameWriter", () => {
  function sink(highWaterMark = 16): {
    writable: WritableStream<Uint8Array>;
    chunks: Uint8Array[];
    release: () => void;
  } {
    const chunks: Uint8Array[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const writable = new WritableStream<Uint8Array>(
      {
        async write(chunk) {
          await gate;
          chunks.push(chunk);
        },
      },
      new CountQueuingStrategy({ highWaterMark }),
    );
    return { writable, chunks, release: () => open() };
  }

  it("coalesces frames written in the same tick into one write", async () => {
    const s = sink();
    s.release();
    const writer = new FrameWriter(s.writable);
    for (const m of messages) writer.write(m);
    await writer.flush();
    expect(s.chunks).toHaveLength(1);
    expect(new FrameDecoder().push(s.chunks[0]!)).toEqual(messages);
    writer.write(messages[0]!);
    await Promise.resolve();
    writer.write(messages[1]!);
    await writer.flush();
    expect(s.chunks).toHaveLength(3);
    await writer.close();
  });

  it("flushes early once maxBatchBytes is reached", async () => {
    const s = sink();
    s.release();
    const writer = new FrameWriter(s.writable, { maxBatchBytes: 2000 });
    for (let i = 0; i < 4; i++) writer.write(new Uint8Array(1000));
    await writer.flush();
    expect(s.chunks.map((c) => c.byteLength)).toEqual([2008, 2008]);
  });

  it("exposes backpressure and congestion changes", async () => {
    const s = sink(1);
    const writer = new FrameWriter(s.writable);
    const events: boolean[] = [];
    writer.onCongestion((c) => events.push(c));
    expect(writer.backpressure).toBe(false);
    writer.write(messages[0]!);
    writer.write(messages[1]!);
    await Promise.resolve();
    expect(writer.backpressure).toBe(true);
    expect(events).toEqual([true]);
    const ready = writer.ready();
    s.release();
    await ready;
    await writer.flush();
    expect(writer.backpressure).toBe(false);
    expect(events).toEqual([true, false]);
    expect(s.chunks).toHaveLength(1);
    expect(new FrameDecoder().push(s.chunks[0]!)).toEqual([messages[0], messages[1]]);
  });

  it("reports a failed stream", async () => {
    const writable = new WritableStream<Uint8Array>({
      write() {
        throw new Error("reset by peer");
      },
    });
    const writer = new FrameWriter(writable);
    writer.write(messages[0]!);
    await expect(writer.flush()).rejects.toThrow("reset by peer");
    await expect(writer.closed).rejects.toThrow("reset by peer");
    expect(() => writer.write(messages[0]!)).toThrow("reset by peer");
    expect(writer.desiredSize).toBeNull();
  });

  it("counts what the stream has not accepted yet, and gives it all back when the stream fails", async () => {
    const s = sink(1);
    const deltas: number[] = [];
    const writer = new FrameWriter(s.writable, { onPending: (d) => deltas.push(d) });
    const sum = () => deltas.reduce((a, b) => a + b, 0);
    writer.write(new Uint8Array(100));
    writer.write(new Uint8Array(50));
    expect(writer.pendingBytes).toBe(158);
    expect(sum()).toBe(158);
    const drained = writer.whenPendingAtMost(0);
    s.release();
    await drained;
    expect(writer.pendingBytes).toBe(0);
    expect(sum()).toBe(0);

    const stuck = sink(1);
    const failing = new FrameWriter(stuck.writable, { onPending: (d) => deltas.push(d) });
    failing.write(new Uint8Array(10));
    failing.write(new Uint8Array(10));
    await Promise.resolve();
    failing.write(new Uint8Array(10));
    expect(failing.pendingBytes).toBe(42);
    const waiting = failing.whenPendingAtMost(0);
    // A write is stuck in the sink; abort gives back its bytes without waiting for it.
    const aborted = failing.abort(new Error("gone"));
    await expect(waiting).rejects.toThrow("gone");
    stuck.release();
    await aborted;
    expect(failing.pendingBytes).toBe(0);
    expect(sum()).toBe(0);
  });
});
