/**
 * Writes frames to a WritableStream, coalescing every frame written in the same tick (before the next
 * microtask checkpoint) into one chunk: one stream write, typically one QUIC packet train instead of one
 * per frame. Used by RpcClient for requests and by the gateway for responses and pushes.
 */
import { ErrorCode, QpqError } from "./errors.ts";
import { encodeFrames } from "./frame.ts";

export interface FrameWriterOptions {
  /** Hand the batch to the stream immediately once this many bytes are queued (default 256 KiB). */
  maxBatchBytes?: number;
  /**
   * Told every change of `pendingBytes` (positive when frames are written, negative when the stream
   * accepted them or failed), so an owner can account many writers against one memory budget.
   */
  onPending?: (deltaBytes: number) => void;
}

export class FrameWriter {
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private readonly maxBatchBytes: number;
  private batch: Uint8Array[] = [];
  private batchBytes = 0;
  private scheduled = false;
  private closing = false;
  private failure: { error: unknown } | undefined;
  private lastWrite: Promise<void> = Promise.resolve();
  private congested = false;
  private readonly congestionListeners = new Set<(congested: boolean) => void>();
  private readonly onPending: ((deltaBytes: number) => void) | undefined;
  private pending = 0;
  private pendingWaiters: { limit: number; resolve: () => void; reject: (error: unknown) => void }[] = [];
  /** Resolves when the stream has closed; rejects when it errored or was aborted. */
  readonly closed: Promise<void>;

  constructor(writable: WritableStream<Uint8Array>, options?: FrameWriterOptions) {
    this.writer = writable.getWriter();
    this.maxBatchBytes = options?.maxBatchBytes ?? 256 * 1024;
    this.onPending = options?.onPending;
    this.closed = this.writer.closed;
    this.closed.catch((error: unknown) => this.fail(error));
  }

  /** The stream's desiredSize (null once errored). At or below 0, await `ready()` before writing more. */
  get desiredSize(): number | null {
    return this.failure ? null : this.writer.desiredSize;
  }

  /** True when the stream wants the producer to wait (`await ready()`). */
  get backpressure(): boolean {
    const size = this.desiredSize;
    return size === null || size <= 0 || this.batchBytes >= this.maxBatchBytes;
  }

  /**
   * Bytes written here (length prefixes included) that the stream has not accepted yet: the batch plus
   * every chunk whose stream write is still pending. This is what the writer makes its owner hold in
   * memory when the peer does not read.
   */
  get pendingBytes(): number {
    return this.pending;
  }

  /**
   * Resolves once `pendingBytes` is at most `limit` (at once if it is); rejects when the stream fails
   * or `signal` aborts first.
   */
  whenPendingAtMost(limit: number, signal?: AbortSignal): Promise<void> {
    if (this.failure) return Promise.reject(this.failure.error);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.pending <= limit) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        limit,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (error: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      const onAbort = (): void => {
        this.pendingWaiters = this.pendingWaiters.filter((w) => w !== waiter);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pendingWaiters.push(waiter);
      // The batch is only handed over on a microtask: without this a waiter could wait for it forever.
      this.flushBatch();
    });
  }

  /** The error the stream failed with, if it did. */
  get error(): unknown {
    return this.failure?.error;
  }

  /**
   * Queues one encoded message (its length prefix is added here). Throws when the stream has failed or
   * close() was called; errors of the underlying write surface through `closed`, `ready()`, `flush()`.
   */
  write(message: Uint8Array): void {
    if (this.failure) throw this.failure.error;
    if (this.closing) throw new QpqError(ErrorCode.Unavailable, "FrameWriter is closed");
    this.batch.push(message);
    this.batchBytes += 4 + message.byteLength;
    this.addPending(4 + message.byteLength);
    if (this.batchBytes >= this.maxBatchBytes) {
      this.flushBatch();
    } else if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flushBatch());
    }
  }

  /**
   * Calls `listener(true)` when the stream starts pushing back (desiredSize <= 0 after a write) and
   * `listener(false)` once it is ready again. Returns a function that removes the listener.
   */
  onCongestion(listener: (congested: boolean) => void): () => void {
    this.congestionListeners.add(listener);
    return () => {
      this.congestionListeners.delete(listener);
    };
  }

  /** Hands the queued batch to the stream now and resolves once the stream accepted everything written. */
  async flush(): Promise<void> {
    this.flushBatch();
    await this.lastWrite;
    if (this.failure) throw this.failure.error;
  }

  /** Hands over the queued batch and resolves when the stream can take more (backpressure released). */
  async ready(): Promise<void> {
    this.flushBatch();
    if (this.failure) throw this.failure.error;
    await this.writer.ready;
  }

  /** Writes what is queued, then closes the stream. */
  async close(): Promise<void> {
    if (this.closing) return this.closed;
    this.flushBatch();
    this.closing = true;
    await this.writer.close();
  }

  /** Drops what is queued and aborts the stream. */
  async abort(reason?: unknown): Promise<void> {
    this.closing = true;
    this.fail(reason);
    await this.writer.abort(reason).catch(() => undefined);
  }

  private flushBatch(): void {
    this.scheduled = false;
    if (this.batch.length === 0 || this.failure) return;
    const chunk = encodeFrames(this.batch);
    this.batch = [];
    this.batchBytes = 0;
    const written = this.writer.write(chunk);
    written.then(
      () => {
        if (!this.failure) this.addPending(-chunk.byteLength);
      },
      (error: unknown) => this.fail(error),
    );
    this.lastWrite = written;
    this.checkCongestion();
  }

  private checkCongestion(): void {
    if (this.congested || this.congestionListeners.size === 0) return;
    const size = this.writer.desiredSize;
    if (size === null || size > 0) return;
    this.setCongested(true);
    this.writer.ready.then(
      () => {
        this.setCongested(false);
        this.checkCongestion();
      },
      () => undefined,
    );
  }

  private setCongested(congested: boolean): void {
    this.congested = congested;
    for (const listener of this.congestionListeners) listener(congested);
  }

  private addPending(delta: number): void {
    this.pending += delta;
    this.onPending?.(delta);
    if (delta >= 0 || this.pendingWaiters.length === 0) return;
    const waiting = this.pendingWaiters;
    this.pendingWaiters = waiting.filter((w) => w.limit < this.pending);
    for (const w of waiting) if (w.limit >= this.pending) w.resolve();
  }

  private fail(error: unknown): void {
    if (this.failure) return;
    this.failure = { error };
    this.batch = [];
    this.batchBytes = 0;
    // Nothing more will be written: whatever was pending is given back at once.
    const pending = this.pending;
    this.pending = 0;
    if (pending !== 0) this.onPending?.(-pending);
    for (const w of this.pendingWaiters.splice(0)) w.reject(error);
  }
}
