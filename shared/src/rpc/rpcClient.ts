/**
 * Request/response RPC over one WebTransport session: requests and their responses travel on one
 * client-opened bidirectional stream, correlated by requestId; the gateway's pushes arrive on
 * server-opened unidirectional streams. Works with the browser's WebTransport and our Node client alike.
 */
import type { BidiStream, WebTransportLike } from "../transport/webtransport.ts";
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import { DecodeError } from "../protocol/decodeError.ts";
import { encodeClientFrame, decodeServerFrame } from "../protocol/codec.ts";
import { readFrames } from "../protocol/frame.ts";
import { FrameWriter } from "../protocol/frameWriter.ts";
import { resolveFrameLimits, type FrameLimits } from "../protocol/limits.ts";
import type {
  Push,
  Request,
  RequestMap,
  RequestType,
  Response,
  ResultMap,
  ServerFrame,
} from "../protocol/messages.ts";

export interface RpcClientOptions {
  /** Limits applied to frames from the gateway. */
  limits?: Partial<FrameLimits>;
  /** Calls on the wire at once; further calls wait their turn (default 256). */
  maxInFlight?: number;
  /** Timeout for calls that do not pass their own `timeoutMs` (default: none). */
  defaultTimeoutMs?: number;
  /** Pushes held while no push handler is registered (default 4096); more are dropped and reported. */
  maxBufferedPushes?: number;
  /**
   * Non-fatal problems: a push handler threw, an undecodable push (e.g. a newer gateway's push type) was
   * dropped, a response for an unknown request id arrived. Default: console.warn.
   */
  onError?: (error: unknown) => void;
}

export interface CallOptions {
  /** Aborting rejects the call with `signal.reason` (the request may still reach the gateway). */
  signal?: AbortSignal;
  /** Rejects the call with a DOMException named "TimeoutError" after this many milliseconds. */
  timeoutMs?: number;
}

export type PushHandler = (push: Push) => void;

type Settle = { resolve: (value: unknown) => void; reject: (error: unknown) => void };

interface Call extends Settle {
  readonly request: Request;
  state: "waiting" | "sent" | "done";
  id: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Marks a request id whose call was abandoned (timeout/abort): reserved until its response arrives. */
const ABANDONED = "abandoned";

const MAX_REQUEST_ID = 0xffff_ffff;

export class RpcClient {
  private readonly wt: WebTransportLike;
  /** Set once the request stream is open; frames written before that wait in `preOpen`. */
  private writer: FrameWriter | undefined;
  private preOpen: Uint8Array[] = [];
  private readonly limits: FrameLimits;
  private readonly maxInFlight: number;
  private readonly defaultTimeoutMs: number | undefined;
  private readonly maxBufferedPushes: number;
  private readonly onError: (error: unknown) => void;
  private readonly stop = new AbortController();
  private readonly calls = new Map<number, Call | typeof ABANDONED>();
  private readonly waiting: Call[] = [];
  private readonly pushHandlers = new Set<PushHandler>();
  private bufferedPushes: Push[] = [];
  private inFlight = 0;
  private nextId = 1;
  private closeError: QpqError | undefined;
  private readonly closedPromise: Promise<QpqError>;
  private resolveClosed!: (error: QpqError) => void;
  private incomingReader: ReadableStreamDefaultReader<ReadableStream<Uint8Array>> | undefined;

  /**
   * Starts a client on `wt`: once the session is ready it opens the request stream and reads responses
   * and pushes. Calls may be made right away; they are written as soon as the stream is open. When the
   * session or the stream cannot be opened, pending calls reject with QpqError(Unavailable).
   */
  static open(wt: WebTransportLike, options?: RpcClientOptions): RpcClient {
    return new RpcClient(wt, options);
  }

  private constructor(wt: WebTransportLike, options: RpcClientOptions | undefined) {
    this.wt = wt;
    this.limits = resolveFrameLimits(options?.limits);
    const maxInFlight = options?.maxInFlight ?? 256;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1)
      throw new QpqError(ErrorCode.InvalidArgument, "maxInFlight must be >= 1");
    this.maxInFlight = maxInFlight;
    this.defaultTimeoutMs = options?.defaultTimeoutMs;
    this.maxBufferedPushes = options?.maxBufferedPushes ?? 4096;
    this.onError = options?.onError ?? ((error) => console.warn("[qpq rpc]", error));
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    void this.openStream();
    void this.acceptPushStreams();
    wt.closed.then(
      () => this.shutdown(new QpqError(ErrorCode.Unavailable, "session closed")),
      (error: unknown) =>
        this.shutdown(new QpqError(ErrorCode.Unavailable, `session failed: ${describe(error)}`)),
    );
  }

  /** Calls currently on the wire (abandoned ones excluded). */
  get inFlightCalls(): number {
    return this.inFlight;
  }

  /** Calls waiting for an in-flight slot. */
  get queuedCalls(): number {
    return this.waiting.length;
  }

  /** Resolves with the reason once the client is closed (by close(), the gateway or the session). */
  get closed(): Promise<QpqError> {
    return this.closedPromise;
  }

  get isClosed(): boolean {
    return this.closeError !== undefined;
  }

  /**
   * Sends the operation `type` with its arguments (undefined for operations without any) and resolves
   * with its result. Rejects with QpqError carrying the gateway's code and
   * retryAfterMs for an error response, QpqError(Unavailable) when the client closes first, or the
   * abort reason / a TimeoutError DOMException. Calls made in the same tick are written as one chunk.
   */
  call<T extends RequestType>(type: T, args: RequestMap[T], options?: CallOptions): Promise<ResultMap[T]> {
    if (this.closeError) return Promise.reject(this.closeError);
    const request = (args === undefined ? { type } : { type, [type]: args }) as Request;
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<ResultMap[T]>((resolve, reject) => {
      const call: Call = {
        request,
        resolve: resolve as (value: unknown) => void,
        reject,
        state: "waiting",
        id: 0,
        timer: undefined,
        signal,
        onAbort: undefined,
      };
      if (signal) {
        call.onAbort = () => this.cancel(call, signal.reason);
        signal.addEventListener("abort", call.onAbort, { once: true });
      }
      const timeoutMs = options?.timeoutMs ?? this.defaultTimeoutMs;
      if (timeoutMs !== undefined && timeoutMs > 0) {
        call.timer = setTimeout(
          () =>
            this.cancel(
              call,
              new DOMException(`${request.type} timed out after ${timeoutMs} ms`, "TimeoutError"),
            ),
          timeoutMs,
        );
      }
      if (this.inFlight < this.maxInFlight) {
        this.inFlight++;
        this.send(call);
      } else {
        this.waiting.push(call);
      }
    });
  }

  /** Registers a push handler; returns a function that unregisters it. Pushes received earlier are replayed. */
  onPush(handler: PushHandler): () => void {
    this.pushHandlers.add(handler);
    if (this.bufferedPushes.length > 0) {
      const buffered = this.bufferedPushes;
      this.bufferedPushes = [];
      for (const push of buffered) this.deliver(push);
    }
    return () => {
      this.pushHandlers.delete(handler);
    };
  }

  /**
   * Closes the request stream and stops reading pushes; pending calls reject with QpqError(Unavailable).
   * The WebTransport session itself is left to its owner.
   */
  close(): void {
    this.shutdown(new QpqError(ErrorCode.Unavailable, "client closed"), true);
  }

  // -------------------------------------------------------------------------------------------------

  private async openStream(): Promise<void> {
    let stream: BidiStream;
    try {
      await this.wt.ready;
      stream = await this.wt.createBidirectionalStream();
    } catch (error) {
      this.shutdown(
        new QpqError(ErrorCode.Unavailable, `could not open the request stream: ${describe(error)}`),
      );
      return;
    }
    const writer = new FrameWriter(stream.writable);
    if (this.closeError) {
      stream.readable.cancel(this.closeError).catch(() => undefined);
      void writer.abort(this.closeError);
      return;
    }
    this.writer = writer;
    writer.closed.catch((error: unknown) =>
      this.shutdown(new QpqError(ErrorCode.Unavailable, `request stream failed: ${describe(error)}`)),
    );
    const queued = this.preOpen;
    this.preOpen = [];
    for (const bytes of queued) writer.write(bytes);
    await this.readResponses(stream.readable);
  }

  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id === MAX_REQUEST_ID ? 1 : id + 1; // 0 is never used: free for connection-level errors
      if (!this.calls.has(id)) return id;
    }
  }

  private send(call: Call): void {
    let bytes: Uint8Array;
    const id = this.allocateId();
    try {
      bytes = encodeClientFrame({ requestId: id, request: call.request });
    } catch (error) {
      this.finish(call);
      this.releaseSlot();
      call.reject(error);
      return;
    }
    call.id = id;
    call.state = "sent";
    this.calls.set(id, call);
    if (this.writer === undefined) {
      this.preOpen.push(bytes);
      return;
    }
    try {
      this.writer.write(bytes);
    } catch (error) {
      this.shutdown(new QpqError(ErrorCode.Unavailable, `request stream failed: ${describe(error)}`));
    }
  }

  private cancel(call: Call, reason: unknown): void {
    if (call.state === "done") return;
    if (call.state === "waiting") {
      const i = this.waiting.indexOf(call);
      if (i >= 0) this.waiting.splice(i, 1);
    } else {
      // The request is (or is about to be) on the wire: keep its id reserved until the response arrives
      // so a late response is never mistaken for a newer call's, but free the slot now.
      this.calls.set(call.id, ABANDONED);
      this.releaseSlot();
    }
    this.finish(call);
    call.reject(reason);
  }

  private finish(call: Call): void {
    call.state = "done";
    if (call.timer !== undefined) clearTimeout(call.timer);
    if (call.onAbort) call.signal?.removeEventListener("abort", call.onAbort);
  }

  private releaseSlot(): void {
    this.inFlight--;
    const next = this.waiting.shift();
    if (next && !this.closeError) {
      this.inFlight++;
      this.send(next);
    }
  }

  private onResponse(response: Response): void {
    const entry = this.calls.get(response.requestId);
    if (entry === undefined) {
      this.onError(
        new QpqError(ErrorCode.MalformedFrame, `response for unknown request id ${response.requestId}`),
      );
      return;
    }
    this.calls.delete(response.requestId);
    if (entry === ABANDONED) return;
    this.finish(entry);
    this.releaseSlot();
    const body = response.result;
    if (body.type === "error") {
      const { code, message, retryAfterMs } = body.error;
      entry.reject(new QpqError(code as ErrorCode, message, retryAfterMs));
    } else if (body.type !== entry.request.type) {
      entry.reject(
        new QpqError(ErrorCode.MalformedFrame, `gateway answered ${entry.request.type} with ${body.type}`),
      );
    } else {
      entry.resolve((body as Partial<Record<string, unknown>>)[body.type]);
    }
  }

  private failCall(requestId: number, error: QpqError): boolean {
    const entry = this.calls.get(requestId);
    if (entry === undefined) return false;
    this.calls.delete(requestId);
    if (entry !== ABANDONED) {
      this.finish(entry);
      this.releaseSlot();
      entry.reject(error);
    }
    return true;
  }

  private deliver(push: Push): void {
    if (this.pushHandlers.size === 0) {
      if (this.bufferedPushes.length >= this.maxBufferedPushes) {
        this.onError(
          new QpqError(ErrorCode.Internal, "push dropped: no push handler registered, buffer full"),
        );
        return;
      }
      this.bufferedPushes.push(push);
      return;
    }
    for (const handler of this.pushHandlers) {
      try {
        handler(push);
      } catch (error) {
        this.onError(error);
      }
    }
  }

  private onFrame(frame: ServerFrame): void {
    // Frames decoded from a chunk read before close() belong to calls close() already rejected.
    if (this.closeError) return;
    if (frame.type === "response") this.onResponse(frame.response);
    else this.deliver(frame.push);
  }

  private async readResponses(readable: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const bytes of readFrames(readable, this.limits, { signal: this.stop.signal })) {
        let frame: ServerFrame;
        try {
          frame = decodeServerFrame(bytes, this.limits);
        } catch (error) {
          // A broken response we can attribute fails that call only; anything else means the gateway and
          // this client disagree about the protocol, and nothing on this stream can be trusted.
          if (
            error instanceof DecodeError &&
            error.requestId !== undefined &&
            this.failCall(error.requestId, error)
          ) {
            continue;
          }
          throw error;
        }
        this.onFrame(frame);
      }
      this.shutdown(new QpqError(ErrorCode.Unavailable, "the gateway closed the request stream"));
    } catch (error) {
      this.shutdown(
        error instanceof QpqError
          ? error
          : new QpqError(ErrorCode.Unavailable, `request stream failed: ${describe(error)}`),
      );
    }
  }

  private async acceptPushStreams(): Promise<void> {
    const reader = this.wt.incomingUnidirectionalStreams.getReader();
    this.incomingReader = reader;
    if (this.closeError) reader.cancel().catch(() => undefined);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        void this.readPushStream(value);
      }
    } catch {
      // The session ended; wt.closed reports it.
    } finally {
      reader.releaseLock();
    }
  }

  private async readPushStream(readable: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const bytes of readFrames(readable, this.limits, { signal: this.stop.signal })) {
        try {
          this.onFrame(decodeServerFrame(bytes, this.limits));
        } catch (error) {
          this.onError(error); // e.g. a push type from a newer gateway: drop it, keep the stream
        }
      }
    } catch (error) {
      if (!this.closeError) this.onError(error);
    }
  }

  private shutdown(error: QpqError, graceful = false): void {
    if (this.closeError) return;
    this.closeError = error;
    for (const call of this.waiting.splice(0)) {
      this.finish(call);
      call.reject(error);
    }
    for (const entry of this.calls.values()) {
      if (entry === ABANDONED) continue;
      this.finish(entry);
      entry.reject(error);
    }
    this.calls.clear();
    this.inFlight = 0;
    this.stop.abort(error);
    this.incomingReader?.cancel(error).catch(() => undefined);
    this.preOpen = [];
    if (graceful) this.writer?.close().catch(() => undefined);
    else void this.writer?.abort(error);
    this.resolveClosed(error);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
