import { describe, expect, it } from "vitest";
import { ErrorCode, FrameWriter } from "@qpq/shared/protocol";
import { BufferBudget } from "./bufferBudget.ts";
import { finishStream } from "./deadlines.ts";

/** A stream that takes whatever is written at once, or (reading false) a peer that never reads. */
function sink(reading: boolean) {
  const written: Uint8Array[] = [];
  let closed = false;
  let abortReason: unknown;
  let stop: AbortSignal | undefined;
  const writable = new WritableStream<Uint8Array>(
    {
      // Like the QUIC streams: an abort settles the write that waits for the peer at once.
      start: (controller) =>
        void (stop = (controller as WritableStreamDefaultController & { readonly signal: AbortSignal })
          .signal),
      write: (chunk) =>
        reading
          ? void written.push(chunk)
          : new Promise<void>((_, reject) => stop?.addEventListener("abort", () => reject(stop?.reason))),
      close: () => void (closed = true),
      abort: (reason) => void (abortReason = reason),
    },
    { highWaterMark: 1 },
  );
  return { writable, written, closed: () => closed, abortReason: () => abortReason };
}

function later(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("finishStream", () => {
  it("waits for answers still being computed, writes them, then closes the stream", async () => {
    const peer = sink(true);
    const writer = new FrameWriter(peer.writable);
    const pending = later();
    const answer = pending.promise.then(() => writer.write(new Uint8Array([7])));
    const finished = finishStream(writer, new Set([answer]), 60_000, new AbortController().signal);
    pending.resolve();
    await finished;
    expect(peer.closed()).toBe(true);
    expect(peer.written.map((chunk) => [...chunk])).toEqual([[1, 0, 0, 0, 7]]);
  });

  it("resets a stream whose peer never reads once the deadline passes, giving back its budget", async () => {
    const peer = sink(false);
    const budget = new BufferBudget(1024);
    const writer = new FrameWriter(peer.writable, { onPending: (delta) => budget.add(delta) });
    writer.write(new Uint8Array(4096));
    expect(budget.used).toBeGreaterThan(budget.limitBytes);
    await finishStream(writer, new Set(), 20, new AbortController().signal);
    expect(budget.used).toBe(0);
    expect(peer.closed()).toBe(false);
    expect((peer.abortReason() as { streamErrorCode?: number }).streamErrorCode).toBe(
      ErrorCode.DeadlineExceeded,
    );
  });

  it("gives up on a handler that never answers at the deadline", async () => {
    const peer = sink(true);
    const writer = new FrameWriter(peer.writable);
    const never = new Promise<void>(() => {});
    await finishStream(writer, new Set([never]), 20, new AbortController().signal);
    expect(peer.abortReason()).toBeDefined();
  });

  it("stops waiting when the connection closes", async () => {
    const peer = sink(false);
    const writer = new FrameWriter(peer.writable);
    writer.write(new Uint8Array(16));
    const closing = new AbortController();
    const finished = finishStream(writer, new Set(), 60_000, closing.signal);
    closing.abort(new Error("connection closed"));
    await finished;
    expect(peer.abortReason()).toBeDefined();
  });
});
