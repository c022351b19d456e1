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
  /** Resolves when the stream has closed; rejects when it errored or was aborted. */
  readonly closed: Promise<void>;

  constructor(writable: WritableStream<Uint8Array>, options?: FrameWriterOptions) {
    this.writer = writable.getWriter();
    this.maxBatchBytes = options?.maxBatchBytes ?? 256 * 1024;
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
    this.batch = [];
    this.batchBytes = 0;
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
    written.catch((error: unknown) => this.fail(error));
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

  private fail(error: unknown): void {
    if (this.failure) return;
    this.failure = { error };
    this.batch = [];
    this.batchBytes = 0;
  }
}
