/**
 * A WebTransport session as the W3C-shaped object the rest of quicproquo codes against. The HTTP/3
 * connection drives it through the underscore methods; applications only see WebTransportLike.
 */
import type { BidiStream, CloseInfo, WebTransportLike } from "@qpq/shared/transport";
import { H3, WebTransportError } from "./errors.ts";
import type { QuicWebStream } from "./streamIo.ts";

/** What a session needs from its HTTP/3 connection. */
export interface SessionHost {
  openStream(session: WtSession, bidi: boolean): Promise<QuicWebStream>;
  sendDatagram(session: WtSession, data: Uint8Array): void;
  maxDatagramSize(): number;
  /** Sends the close capsule and FIN on the CONNECT stream. */
  sendClose(session: WtSession, code: number, reason: string): void;
  onSessionEnded(session: WtSession): void;
}

export interface DatagramDuplex {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly maxDatagramSize: number;
}

type State = "connecting" | "open" | "closed";

function settle<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export class WtSession implements WebTransportLike {
  readonly ready: Promise<void>;
  readonly closed: Promise<CloseInfo>;
  /** Resolves when the peer asks to wind the session down (DRAIN_WEBTRANSPORT_SESSION). */
  readonly draining: Promise<void>;
  readonly incomingBidirectionalStreams: ReadableStream<BidiStream>;
  readonly incomingUnidirectionalStreams: ReadableStream<ReadableStream<Uint8Array>>;
  readonly datagrams: DatagramDuplex;
  /** Every stream of the session still open in some direction, to reset them when it ends. */
  readonly streams = new Set<QuicWebStream>();
  state: State;
  private readonly readyP = settle<void>();
  private readonly closedP = settle<CloseInfo>();
  private readonly drainP = settle<void>();
  private bidiC!: ReadableStreamDefaultController<BidiStream>;
  private uniC!: ReadableStreamDefaultController<ReadableStream<Uint8Array>>;
  private dgramC!: ReadableStreamDefaultController<Uint8Array>;

  /** Server sessions: who connected and what they asked for. */
  remoteAddress = "";
  remotePort = 0;
  path = "";
  headers: Record<string, string> = {};
  private host: SessionHost | null;

  constructor(
    host: SessionHost | null,
    /** The CONNECT stream id, which is the session id on the wire. */
    readonly id: number,
    open: boolean,
  ) {
    this.host = host;
    this.state = open ? "open" : "connecting";
    this.ready = this.readyP.promise;
    this.ready.catch(() => {}); // rejection is reported through `ready` to whoever awaits it
    if (open) this.readyP.resolve();
    this.closed = this.closedP.promise;
    this.draining = this.drainP.promise;
    this.incomingBidirectionalStreams = new ReadableStream({ start: (c) => void (this.bidiC = c) });
    this.incomingUnidirectionalStreams = new ReadableStream({ start: (c) => void (this.uniC = c) });
    const maxSize = (): number => this.host?.maxDatagramSize() ?? 0;
    this.datagrams = {
      readable: new ReadableStream<Uint8Array>(
        { start: (c) => void (this.dgramC = c) },
        { highWaterMark: 64, size: () => 1 },
      ),
      writable: new WritableStream<Uint8Array>({
        write: (chunk) => {
          if (this.state === "open") this.host?.sendDatagram(this, chunk);
        },
      }),
      get maxDatagramSize() {
        return maxSize();
      },
    };
  }

  async createBidirectionalStream(): Promise<BidiStream> {
    await this.ready;
    this.assertOpen();
    const s = await this.requireHost().openStream(this, true);
    return {
      readable: s.readable as ReadableStream<Uint8Array>,
      writable: s.writable as WritableStream<Uint8Array>,
    };
  }

  async createUnidirectionalStream(): Promise<WritableStream<Uint8Array>> {
    await this.ready;
    this.assertOpen();
    const s = await this.requireHost().openStream(this, false);
    return s.writable as WritableStream<Uint8Array>;
  }

  close(info?: Partial<CloseInfo>): void {
    const closeInfo = { closeCode: info?.closeCode ?? 0, reason: info?.reason ?? "" };
    if (this.state === "closed") return;
    if (this.state === "connecting") {
      this._fail(new WebTransportError("closed before the session was established", "session"));
      return;
    }
    this.host?.sendClose(this, closeInfo.closeCode >>> 0, closeInfo.reason);
    this._finish(closeInfo, H3.WT_SESSION_GONE);
  }

  /** The client creates its session before the connection exists; the connection attaches later. */
  _attach(host: SessionHost): void {
    this.host = host;
  }

  private requireHost(): SessionHost {
    if (!this.host) throw new WebTransportError("session has no connection", "session");
    return this.host;
  }

  private assertOpen(): void {
    if (this.state !== "open") throw new WebTransportError("session is closed", "session");
  }

  _established(): void {
    if (this.state !== "connecting") return;
    this.state = "open";
    this.readyP.resolve();
  }

  /** The session could not be established: ready rejects, closed still resolves. */
  _fail(err: unknown): void {
    if (this.state === "closed") return;
    this.readyP.reject(err);
    this._finish({ closeCode: 0, reason: err instanceof Error ? err.message : String(err) }, null);
  }

  _addIncoming(stream: QuicWebStream, bidi: boolean): void {
    this.streams.add(stream);
    if (bidi) {
      this.bidiC.enqueue({
        readable: stream.readable as ReadableStream<Uint8Array>,
        writable: stream.writable as WritableStream<Uint8Array>,
      });
    } else {
      this.uniC.enqueue(stream.readable as ReadableStream<Uint8Array>);
    }
  }

  _onDatagram(data: Uint8Array): void {
    // Unreliable by contract: drop rather than buffer without bound when the app does not keep up.
    if (this.state === "open" && (this.dgramC.desiredSize ?? 0) > 0) this.dgramC.enqueue(data);
  }

  _drain(): void {
    this.drainP.resolve();
  }

  /** Ends the session: streams are reset with `resetCode` (null when the connection is already gone). */
  _finish(info: CloseInfo, resetCode: number | null): void {
    if (this.state === "closed") return;
    const wasConnecting = this.state === "connecting";
    this.state = "closed";
    if (wasConnecting) this.readyP.reject(new WebTransportError(info.reason || "session failed", "session"));
    const err = new WebTransportError(`session closed: ${info.closeCode} ${info.reason}`, "session");
    for (const s of [...this.streams]) s.terminate(err, resetCode);
    this.streams.clear();
    for (const c of [this.bidiC, this.uniC, this.dgramC] as ReadableStreamDefaultController<unknown>[]) {
      try {
        c.close();
      } catch {
        // already closed or errored
      }
    }
    this.drainP.resolve();
    this.closedP.resolve(info);
    this.host?.onSessionEnded(this);
  }
}
