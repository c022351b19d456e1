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

export interface ServedSession extends WebTransportLike {
  readonly remoteAddress: string;
}

let nextConnectionId = 1;

/** Between the sessionEnded push and the close: long enough for the push to arrive first. */
const SESSION_END_GRACE_MS = 1000;

export class ClientConnection {
  readonly state: ConnectionState;
  private readonly limits: FrameLimits;
  private inFlight = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private pushWriter: Promise<FrameWriter> | undefined;
  private unsubscribe: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly wt: ServedSession,
    private readonly services: Services,
  ) {
    const id = nextConnectionId++;
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
    this.services.sessions.unbind(this.state);
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const wake of this.slotWaiters.splice(0)) wake();
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
    const writer = new FrameWriter(stream.writable);
    const decoder = new FrameDecoder(this.limits);
    const reader = stream.readable.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
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
        for (const frame of frames) {
          await this.acquireSlot();
          if (this.closed) break;
          void this.handleFrame(writer, frame).finally(() => this.releaseSlot());
        }
      }
    } catch {
      // Stream reset by the peer.
    } finally {
      await writer.close().catch(() => {});
    }
  }

  private async handleFrame(writer: FrameWriter, bytes: Uint8Array): Promise<void> {
    let frame: ClientFrame;
    try {
      frame = decodeClientFrame(bytes, this.limits);
    } catch (error) {
      const requestId = error instanceof DecodeError ? (error.requestId ?? 0) : 0;
      this.answer(writer, requestId, errorBody(error));
      return;
    }
    this.answer(writer, frame.requestId, await this.dispatch(frame.request));
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
      writer.write(encodeServerFrame({ type: "response", response: { requestId, result: body } }));
    } catch (error) {
      log.warn("could not write a response", { conn: this.state.id, ...errorFields(error) });
    }
  }

  private subscribe(recipientKey: Uint8Array, afterSeq: number, channelId?: Uint8Array): void {
    this.stopPushes();
    if (this.closed) return;
    const sink = {
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
        writer.write(encodeServerFrame({ type: "push", push: { type: "envelope", envelope } }));
        await writer.ready();
      },
      congested: () => this.pushCongested,
    };
    const onError = (error: unknown) => {
      log.debug("push stream failed", { conn: this.state.id, ...errorFields(error) });
      this.stopPushes();
    };
    this.unsubscribe = this.services.delivery.subscribe(recipientKey, afterSeq, sink, onError, channelId);
  }

  private pushCongested = false;

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
      const writer = new FrameWriter(writable);
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
