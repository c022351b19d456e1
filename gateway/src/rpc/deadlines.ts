/**
 * Deadlines of one request stream: how long an incomplete frame may wait for its bytes, and how long
 * a stream the peer has finished may wait for its answers. Both bound what a slow or silent peer can
 * make the gateway hold.
 */
import { ErrorCode, QpqError, type FrameWriter } from "@qpq/shared/protocol";

/**
 * The deadline of an incomplete frame. Only time spent waiting for the peer counts (not time the
 * gateway itself stops reading under backpressure), and it accumulates over reads from the frame's
 * first byte, so trickling one byte at a time does not keep a frame open forever.
 */
export class FrameDeadline {
  private waitedMs = 0;

  constructor(private readonly limitMs: number) {}

  async read(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    partial: boolean,
  ): Promise<
    { value: Uint8Array; done: false; expired: false } | { value?: undefined; done: true; expired: boolean }
  > {
    if (!partial) {
      const result = await reader.read();
      return result.done
        ? { done: true, expired: false }
        : { value: result.value, done: false, expired: false };
    }
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"expired">((resolve) => {
      timer = setTimeout(() => resolve("expired"), Math.max(0, this.limitMs - this.waitedMs));
    });
    try {
      const result = await Promise.race([reader.read(), expired]);
      if (result === "expired") return { done: true, expired: true };
      return result.done
        ? { done: true, expired: false }
        : { value: result.value, done: false, expired: false };
    } finally {
      clearTimeout(timer);
      this.waitedMs += performance.now() - started;
    }
  }

  /** A frame completed (or the stream ended): the next one starts with a full deadline. */
  reset(): void {
    this.waitedMs = 0;
  }
}

/** Rejects with the signal's reason when it aborts first. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Ends a request stream once reading it is over (the peer finished or reset it, or it broke): every
 * request already started still gets its answer, as docs/protocol.md promises, and then the stream is
 * closed. A handler that hangs or a peer that half-closes and never reads gets `limitMs` for all of
 * it; then the stream is reset with E034, which also gives back what its unread answers held in the
 * buffer budget. Closing the connection cuts the wait short the same way.
 */
export async function finishStream(
  writer: FrameWriter,
  answers: ReadonlySet<Promise<void>>,
  limitMs: number,
  closing: AbortSignal,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const cutOff = new Promise<"cut off">((resolve) => {
    timer = setTimeout(() => resolve("cut off"), limitMs);
    onAbort = () => resolve("cut off");
    if (closing.aborted) onAbort();
    else closing.addEventListener("abort", onAbort, { once: true });
  });
  const answered = (async () => {
    await Promise.allSettled(answers);
    await writer.close();
    return "closed" as const;
  })().catch(() => "failed" as const);
  try {
    if ((await Promise.race([answered, cutOff])) === "cut off") {
      const error = new QpqError(ErrorCode.DeadlineExceeded, "answers not delivered within the deadline");
      await writer.abort(Object.assign(error, { streamErrorCode: error.code }));
    }
  } finally {
    clearTimeout(timer);
    if (onAbort) closing.removeEventListener("abort", onAbort);
  }
}
