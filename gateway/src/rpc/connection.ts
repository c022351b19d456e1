/**
 * Serves one WebTransport session: every client-opened bidirectional stream carries request frames
 * (answered on the same stream, matched by request id), and one gateway-opened unidirectional stream
 * carries pushes. All input is untrusted: frames are size-checked before decoding, a broken frame
 * gets a typed error, and nothing a peer sends can take the gateway down for anyone else.
 */
import {
  DecodeError,
  ErrorCode,
  FrameDecoder,
  FrameWriter,
  QpqError,
  decodeClientFrame,
  encodeServerFrame,
  type ClientFrame,
  type Envelope,
  type FrameLimits,
  type Request,
  type ResponseBody,
} from "@qpq/shared/protocol";
import type { BidiStream, WebTransportLike } from "@qpq/shared/transport";
import { errorFields, log } from "../log.ts";
import { beforeHello, handlers, type ConnectionState, type Services } from "../services/index.ts";
import type { Handler } from "../services/context.ts";
import type { PushSink } from "../delivery/subscription.ts";
import { BufferBudget } from "./bufferBudget.ts";
import { FrameDeadline, abortable, finishStream } from "./deadlines.ts";

export interface ServedSession extends WebTransportLike {
  readonly remoteAddress: string;
}

let nextConnectionId = 1;

/** Between the sessionEnded push and the close: long enough for the push to arrive first. */
const SESSION_END_GRACE_MS = 1000;

/**
 * Room reserved for a response while its request runs, before its size is known. Every response but
 * a fetch page is small (the largest, a KeyPackage or hybrid key, is a few KiB); a fetch page may be a
 * whole frame. Reserving before dispatch is what keeps a burst of requests from a peer that does not
 * read from computing many large responses at once.
 */
const SMALL_RESPONSE_BYTES = 64 * 1024;

/** One global budget per gateway (per Services), shared by all its connections. */
const totalBudgets = new WeakMap<Services, BufferBudget>();

/** The budget all connections of these services share. */
export function totalBudget(services: Services): BufferBudget {
  let budget = totalBudgets.get(services);
  if (!budget)
    totalBudgets.set(services, (budget = new BufferBudget(services.config.limits.totalBufferBytes)));
  return budget;
}

export class ClientConnection {
  readonly state: ConnectionState;
  private readonly limits: FrameLimits;
  private inFlight = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private pushWriter: Promise<FrameWriter> | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Aborts whatever the current subscription's pump is waiting for, so it lets go of its page. */
  private pushAbort: AbortController | undefined;
  private closed = false;
  /** What this connection makes the gateway hold for it (see BufferBudget). */
  readonly buffers: BufferBudget;
  private helloTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly wt: ServedSession,
    private readonly services: Services,
  ) {
    const id = nextConnectionId++;
    this.buffers = new BufferBudget(services.config.limits.connBufferBytes, totalBudget(services));
    this.limits = {
      maxFrameBytes: services.config.limits.maxFrameBytes,
      maxSegments: services.config.limits.maxSegments,
    };
    this.state = {
      id,
      remoteAddress: wt.remoteAddress,
      version: undefined,
      session: undefined,
      subscribe: (recipientKey, afterSeq, channelId) => this.subscribe(recipientKey, afterSeq, channelId),
      endSession: (detail) => void this.endSession(detail),
    };
  }

  /** Runs until the session ends; never rejects. */
  async serve(): Promise<void> {
    // A peer that connects and never says hello would otherwise hold its session open forever.
    this.helloTimer = setTimeout(() => {
      if (this.state.version !== undefined || this.closed) return;
      this.wt.close({ closeCode: ErrorCode.DeadlineExceeded, reason: "no hello in time" });
      this.close();
    }, this.services.config.limits.helloDeadlineMs);
    this.helloTimer.unref();
    void this.refuseUnidirectional();
    const reader = this.wt.incomingBidirectionalStreams.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        void this.serveStream(value);
      }
    } catch {
      // The session ended abruptly; cleanup below.
    } finally {
      this.close();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.helloTimer);
    this.services.sessions.unbind(this.state);
    this.stopPushes();
    for (const wake of this.slotWaiters.splice(0)) wake();
    this.closing.abort(new QpqError(ErrorCode.Unavailable, "connection closed"));
  }

  /** Clients have no business opening unidirectional streams: read nothing, cancel each. */
  private async refuseUnidirectional(): Promise<void> {
    const reader = this.wt.incomingUnidirectionalStreams.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        value.cancel().catch(() => {});
      }
    } catch {
      // Session gone.
    }
  }

  private async serveStream(stream: BidiStream): Promise<void> {
    const writer = new FrameWriter(stream.writable, { onPending: (delta) => this.buffers.add(delta) });
    const decoder = new FrameDecoder(this.limits);
    const reader = stream.readable.getReader();
    const deadline = new FrameDeadline(this.services.config.limits.frameDeadlineMs);
    // Answers still owed on this stream: a peer may finish its side right after its last request.
    const answers = new Set<Promise<void>>();
    // The peer's FIN (all it sent read) must end a wait for it to read, or the FIN is never seen.
    let peerFinished = false;
    let wakeOnEnd: (() => void) | undefined;
    reader.closed.then(
      () => {
        peerFinished = true;
        wakeOnEnd?.();
      },
      () => wakeOnEnd?.(),
    );
    try {
      for (;;) {
        // A peer that does not read its responses gets no more of them computed: while this stream's
        // writes are not accepted, its requests stay unread (QUIC flow control holds the peer back).
        if (writer.backpressure && !peerFinished) {
          await new Promise<void>((resolve, reject) => {
            wakeOnEnd = resolve;
            writer.ready().then(resolve, reject);
          });
          wakeOnEnd = undefined;
        }
        // Everything the peer sent was read: from here only finishStream's deadline holds the stream.
        if (writer.backpressure && peerFinished) break;
        const { value, done, expired } = await deadline.read(reader, decoder.bufferedBytes > 0);
        if (expired) {
          // Whatever the peer sends next, this frame is late: the stream cannot be resumed.
          const error = new QpqError(ErrorCode.DeadlineExceeded, "frame incomplete past the deadline");
          this.answer(writer, 0, errorBody(error));
          // The stream's reset carries the same registry code as the answer.
          reader.cancel(Object.assign(error, { streamErrorCode: error.code })).catch(() => {});
          break;
        }
        if (done || this.closed) break;
        let frames: Uint8Array[];
        try {
          frames = decoder.push(value);
        } catch (error) {
          // The length prefix itself is bad: the stream is out of sync and cannot be resumed.
          this.answer(writer, 0, errorBody(error));
          reader.cancel().catch(() => {});
          break;
        }
        // What is left over started in this chunk (or nothing is): its deadline starts now.
        if (frames.length > 0 || decoder.bufferedBytes === 0) deadline.reset();
        for (const bytes of frames) {
          // Error answers take no slot: a flood of undecodable frames must still wait for the budget.
          if (!this.buffers.within) await this.buffers.whenWithin(this.closing.signal);
          const frame = this.decode(writer, bytes);
          if (!frame) continue;
          await this.acquireSlot();
          if (this.closed) break;
          const reserved = frame.request.type === "fetch" ? this.limits.maxFrameBytes : SMALL_RESPONSE_BYTES;
          try {
            await this.buffers.reserve(reserved, this.closing.signal);
          } catch {
            this.releaseSlot();
            break;
          }
          const answered = this.handleFrame(writer, frame, reserved);
          answers.add(answered);
          void answered.then(() => answers.delete(answered));
          void answered
            // The slot is held until the answer is written out or fits in the connection's budget:
            // otherwise a peer that never reads could have any number of answers waiting in memory.
            .then(() => this.buffers.whenWithin(this.closing.signal))
            .catch(() => {})
            .finally(() => this.releaseSlot());
        }
      }
    } catch {
      // Stream reset by the peer.
    } finally {
      deadline.reset();
      await finishStream(writer, answers, this.services.config.limits.frameDeadlineMs, this.closing.signal);
    }
  }

  /** Decodes one frame; an undecodable one is answered here (its answer is small: no reservation). */
  private decode(writer: FrameWriter, bytes: Uint8Array): ClientFrame | undefined {
    try {
      return decodeClientFrame(bytes, this.limits);
    } catch (error) {
      const requestId = error instanceof DecodeError ? (error.requestId ?? 0) : 0;
      this.answer(writer, requestId, errorBody(error));
      return undefined;
    }
  }

  /** Runs one request and hands its answer to the writer; never rejects. */
  private async handleFrame(writer: FrameWriter, frame: ClientFrame, reserved: number): Promise<void> {
    let body: ResponseBody;
    try {
      body = await this.dispatch(frame.request);
    } finally {
      this.buffers.add(-reserved);
    }
    if (frame.request.type === "hello" && this.state.version !== undefined) clearTimeout(this.helloTimer);
    this.answer(writer, frame.requestId, body);
  }

  private async dispatch(request: Request): Promise<ResponseBody> {
    try {
      if (this.state.version === undefined && !beforeHello.has(request.type)) {
        throw new QpqError(ErrorCode.HelloRequired, "send hello first");
      }
      const type = request.type;
      const handler = handlers[type] as Handler<typeof type>;
      // Void members carry no content: their handlers get undefined.
      const args = (request as Partial<Record<string, unknown>>)[type];
      const result = await handler(args as never, this.state, this.services);
      if (type === "logout") this.stopPushes();
      return (result === undefined ? { type } : { type, [type]: result }) as ResponseBody;
    } catch (error) {
      if (!(error instanceof QpqError)) {
        log.error("request failed", { op: request.type, conn: this.state.id, ...errorFields(error) });
      }
      return errorBody(error);
    }
  }

  private answer(writer: FrameWriter, requestId: number, body: ResponseBody): void {
    try {
      let bytes = encodeServerFrame({ type: "response", response: { requestId, result: body } });
      if (bytes.byteLength > this.limits.maxFrameBytes) {
        // The peer would refuse the frame and lose the stream with it; an error keeps the stream usable.
        log.warn("response exceeds the frame limit", { conn: this.state.id, bytes: bytes.byteLength });
        const error = new QpqError(ErrorCode.Internal, "response too large");
        bytes = encodeServerFrame({ type: "response", response: { requestId, result: errorBody(error) } });
      }
      writer.write(bytes);
    } catch (error) {
      // The peer reset the stream, or its answers were not taken in time: its doing, so not a warning.
      log.debug("could not write a response", { conn: this.state.id, ...errorFields(error) });
    }
  }

  private subscribe(recipientKey: Uint8Array, afterSeq: number, channelId?: Uint8Array): void {
    this.stopPushes();
    if (this.closed) return;
    const abort = (this.pushAbort = new AbortController());
    const signal = abort.signal;
    // Pushes stop at half the budget, so a client slow to read them still has room for its answers.
    const pushShare = this.buffers.limitBytes / 2;
    const sink: PushSink = {
      send: async (envelope: Envelope) => {
        // Requests re-check the session's expiry on every call; pushes must too, or an expired
        // session bound to a still-open connection would read its queue for as long as it stays up.
        const session = this.state.session;
        if (!session || session.expiresAtMs <= this.services.now()) {
          if (session) {
            // Told like any other ended session, so an idle client does not wait for pushes forever.
            this.services.sessions.unbind(this.state);
            void this.endSession("session expired; log in again");
          }
          throw new QpqError(ErrorCode.SessionInvalid, "session expired; log in again");
        }
        const writer = await this.openPushStream();
        signal.throwIfAborted();
        writer.write(encodeServerFrame({ type: "push", push: { type: "envelope", envelope } }));
        // Buffered within budget counts as sent; beyond it the pump waits, and stopping pushes (a new
        // subscribe, logout, close) aborts the wait so the pump lets go of what it holds.
        await this.buffers.whenWithin(signal);
      },
      congested: () => this.pushCongested || this.buffers.used > pushShare || !this.buffers.within,
      drained: async () => {
        const writer = await this.openPushStream();
        signal.throwIfAborted();
        await abortable(writer.ready(), signal);
        // The same condition as congested(), or the pump would spin re-reading the store.
        await this.buffers.whenAtMost(pushShare, signal);
      },
    };
    const onError = (error: unknown) => {
      log.debug("push stream failed", { conn: this.state.id, ...errorFields(error) });
      this.stopPushes();
    };
    this.unsubscribe = this.services.delivery.subscribe(recipientKey, afterSeq, sink, onError, channelId);
  }

  private pushCongested = false;
  /** Aborted on close: releases every wait for budget, so nothing of a gone connection stays behind. */
  private readonly closing = new AbortController();

  /**
   * The session was ended elsewhere (logout, eviction). It is unbound at once, so nothing more runs
   * under it; the client is told why on the push stream, and the connection is closed with the same
   * code a moment later, so the push is not cut off by the close.
   */
  private async endSession(detail: string): Promise<void> {
    this.state.session = undefined;
    this.stopPushes();
    if (this.closed) return;
    const closeNow = () => this.wt.close({ closeCode: ErrorCode.SessionInvalid, reason: detail });
    try {
      const writer = await this.openPushStream();
      const error = { code: ErrorCode.SessionInvalid, message: detail, retryAfterMs: 0 };
      writer.write(encodeServerFrame({ type: "push", push: { type: "sessionEnded", sessionEnded: error } }));
      await writer.close();
    } catch (error) {
      log.debug("could not push sessionEnded", { conn: this.state.id, ...errorFields(error) });
      closeNow();
      return;
    }
    setTimeout(closeNow, SESSION_END_GRACE_MS).unref();
  }

  private openPushStream(): Promise<FrameWriter> {
    this.pushWriter ??= this.wt.createUnidirectionalStream().then((writable) => {
      const writer = new FrameWriter(writable, { onPending: (delta) => this.buffers.add(delta) });
      writer.onCongestion((congested) => {
        this.pushCongested = congested;
      });
      return writer;
    });
    return this.pushWriter;
  }

  private stopPushes(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.pushAbort?.abort(new QpqError(ErrorCode.Unavailable, "pushes stopped"));
    this.pushAbort = undefined;
  }

  private acquireSlot(): Promise<void> | void {
    if (this.inFlight < this.services.config.limits.maxInFlightPerConnection) {
      this.inFlight++;
      return;
    }
    // Backpressure: stop reading this stream until a request finishes, instead of queueing unboundedly.
    return new Promise<void>((resolve) => this.slotWaiters.push(resolve)).then(() => {
      this.inFlight++;
    });
  }

  private releaseSlot(): void {
    this.inFlight--;
    this.slotWaiters.shift()?.();
  }
}

function errorBody(error: unknown): ResponseBody {
  if (error instanceof QpqError) {
    return {
      type: "error",
      error: { code: error.code, message: error.detail, retryAfterMs: error.retryAfterMs },
    };
  }
  return { type: "error", error: { code: ErrorCode.Internal, message: "internal error", retryAfterMs: 0 } };
}
