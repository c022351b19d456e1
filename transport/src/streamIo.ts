/**
 * Web Streams over one quiche stream, with backpressure both ways: we read from quiche only while the
 * ReadableStream wants more (so QUIC flow control pushes back on the peer), and a write resolves once
 * quiche took the bytes or what is left fits under the high-water mark.
 */
import type { Connection } from "@matrixai/quic/native/types.js";
import { WebTransportError, httpCodeToWt, wtCodeToHttp } from "./errors.ts";

const SHUTDOWN_READ = 0;
const SHUTDOWN_WRITE = 1;
const EMPTY = new Uint8Array(0);
/**
 * How long a lone FIN waits for the connection to have nothing in flight (see flushLoneFin). Past
 * this, the stream's data went to quiche long enough ago to have been acknowledged on any sane path,
 * and a connection kept busy by other streams must not hold the end of this one back any longer.
 */
const LONE_FIN_MAX_WAIT_MS = 500;

function errorNumber(err: unknown, name: string): number | null {
  const m = err instanceof Error ? err.message.match(new RegExp(`${name}\\((\\d{1,16})\\)`)) : null;
  return m ? Number(m[1]) : null;
}

export type RecvOutcome =
  | { kind: "data"; data: Uint8Array; fin: boolean }
  | { kind: "none" }
  | { kind: "reset"; code: number }
  | { kind: "gone" };

/** One streamRecv, with quiche's errors turned into values. `data` is a copy the caller may keep. */
export function recvChunk(conn: Connection, id: number, scratch: Uint8Array): RecvOutcome {
  let result;
  try {
    result = conn.streamRecv(id, scratch);
  } catch (err) {
    const code = errorNumber(err, "StreamReset");
    return code === null ? { kind: "gone" } : { kind: "reset", code };
  }
  if (result === null) return { kind: "none" };
  const [len, fin] = result;
  return { kind: "data", data: scratch.slice(0, len), fin };
}

export type SendOutcome = { ok: true; written: number } | { ok: false; stopped: number | null };

export function sendChunk(conn: Connection, id: number, data: Uint8Array, fin: boolean): SendOutcome {
  try {
    return { ok: true, written: conn.streamSend(id, data, fin) ?? 0 };
  } catch (err) {
    return { ok: false, stopped: errorNumber(err, "StreamStopped") };
  }
}

export function shutdown(conn: Connection, id: number, read: boolean, code: number): void {
  try {
    conn.streamShutdown(id, read ? SHUTDOWN_READ : SHUTDOWN_WRITE, code);
  } catch {
    // Already finished or collected: nothing left to shut down.
  }
}

/** What a stream needs from the HTTP/3 connection that owns it. */
export interface StreamHost {
  readonly conn: Connection;
  readonly scratch: Uint8Array;
  markDirty(): void;
  setBlocked(stream: QuicWebStream, blocked: boolean): void;
  /** A stream whose FIN is due with no data left to carry it (see flushLoneFin). */
  setLoneFin(stream: QuicWebStream, pending: boolean): void;
  /** Streams that may be collected by quiche without a readable event (see pumpRead). */
  watchFin(stream: { id: number; onReadable(): void }, on: boolean): void;
  onStreamDone(stream: QuicWebStream): void;
}

function codeOf(reason: unknown): number {
  if (reason instanceof WebTransportError && reason.streamErrorCode !== null) return reason.streamErrorCode;
  const code = (reason as { streamErrorCode?: unknown } | null)?.streamErrorCode;
  return typeof code === "number" ? code : 0;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class QuicWebStream {
  readonly readable: ReadableStream<Uint8Array> | null = null;
  readonly writable: WritableStream<Uint8Array> | null = null;
  private rc: ReadableStreamDefaultController<Uint8Array> | null = null;
  private readOpen: boolean;
  private writeOpen: boolean;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private finPending = false;
  private writeError: unknown = null;
  private writeWaiter: Waiter | null = null;
  private closeWaiter: Waiter | null = null;
  private readonly hwm: number;
  /** performance.now() when quiche last took bytes of this stream; 0 before the first. */
  private lastHandoff = 0;
  private finTimer: NodeJS.Timeout | null = null;
  /** The session's stream set, so the stream leaves it when both directions are done. */
  owner: Set<QuicWebStream> | null = null;

  constructor(
    private readonly host: StreamHost,
    readonly id: number,
    opts: {
      read: boolean;
      write: boolean;
      hwm: number;
      prefix?: Uint8Array;
      /** Bytes read together with the stream preamble, and whether FIN came with them. */
      initial?: Uint8Array;
      finished?: boolean;
    },
  ) {
    this.readOpen = opts.read;
    this.writeOpen = opts.write;
    const hwm = (this.hwm = opts.hwm);
    if (opts.read) {
      this.readable = new ReadableStream<Uint8Array>(
        {
          start: (c) => {
            this.rc = c;
            if (opts.initial && opts.initial.length > 0) c.enqueue(opts.initial);
            if (opts.finished) {
              this.readOpen = false;
              c.close();
            }
          },
          pull: () => {
            this.pumpRead();
            this.host.markDirty(); // reading may free flow-control credit worth announcing
          },
          cancel: (reason) => {
            if (!this.readOpen) return;
            this.readOpen = false;
            shutdown(this.host.conn, this.id, true, wtCodeToHttp(codeOf(reason)));
            this.host.markDirty();
            this.checkDone();
          },
        },
        { highWaterMark: hwm, size: (chunk) => chunk.byteLength },
      );
    }
    if (opts.write) {
      this.writable = new WritableStream<Uint8Array>({
        // abort() reaches the sink only after the write in flight settles, and that write waits for
        // the peer to read: a peer that never does would keep the stream, and its queue, forever.
        // The controller's signal fires at once, so the reset does not wait for the peer.
        start: (controller) => {
          // Node has had the signal since 18; the typings it ships with lack it.
          const { signal } = controller as WritableStreamDefaultController & { readonly signal: AbortSignal };
          signal.addEventListener("abort", () => {
            this.abort(wtCodeToHttp(codeOf(signal.reason)), new WebTransportError("aborted", "stream"));
          });
        },
        write: (chunk) => this.write(chunk),
        close: () => this.close(),
        abort: (reason) =>
          this.abort(wtCodeToHttp(codeOf(reason)), new WebTransportError("aborted", "stream")),
      });
      if (opts.prefix) {
        // Sent at once: quiche counts a local stream against the peer's limit only once it has data.
        this.queue.push(opts.prefix);
        this.queued += opts.prefix.length;
        this.pumpWrite(true);
      }
    }
    if (opts.read && !opts.write) host.watchFin(this, true);
  }

  /** Internal writes (CONNECT stream): queue bytes, optionally followed by FIN. */
  sendRaw(data: Uint8Array, fin: boolean): void {
    if (!this.writeOpen) return;
    if (fin) this.finPending = true;
    if (data.length > 0) this.enqueue(data);
    else this.pumpWrite(false);
    this.host.markDirty();
  }

  get reading(): boolean {
    return this.readOpen;
  }

  get writing(): boolean {
    return this.writeOpen;
  }

  onReadable(): void {
    this.pumpRead();
  }

  /** Moves data from quiche into the ReadableStream while it has room. */
  pumpRead(): void {
    // enqueue() can synchronously call pull(), which calls back in here: the flag keeps us from
    // reading past a FIN that the outer call has taken but not yet acted on.
    if (this.inPump) return;
    this.inPump = true;
    try {
      this.pumpReadInner();
    } finally {
      this.inPump = false;
    }
  }

  private inPump = false;

  private pumpReadInner(): void {
    const rc = this.rc;
    while (this.readOpen && rc && (rc.desiredSize ?? 0) > 0) {
      const r = recvChunk(this.host.conn, this.id, this.host.scratch);
      if (r.kind === "none") return;
      if (r.kind === "data") {
        if (r.fin) this.readOpen = false;
        if (r.data.length > 0) rc.enqueue(r.data);
        if (!r.fin) continue;
        rc.close();
      } else if (r.kind === "gone" && this.host.conn.streamFinished(this.id)) {
        // quiche collects a stream whose last (empty) FIN frame arrives after everything was read and
        // our side had finished: the FIN is then only visible as "finished".
        this.readOpen = false;
        rc.close();
      } else {
        this.readOpen = false;
        const code = r.kind === "reset" ? httpCodeToWt(r.code) : null;
        rc.error(
          new WebTransportError(r.kind === "reset" ? "stream reset by peer" : "stream gone", "stream", code),
        );
      }
      this.checkDone();
      return;
    }
  }

  /**
   * Queues bytes for pumpWrite. The caller may reuse its buffer once the write resolves, so the queue
   * holds a copy (quiche copies too, but we hold the tail back, see pumpWrite).
   */
  private enqueue(chunk: Uint8Array): void {
    this.queue.push(chunk.slice());
    this.queued += chunk.length;
    this.pumpWrite(false);
  }

  private write(chunk: Uint8Array): Promise<void> | void {
    if (!this.writeOpen) throw this.writeError ?? new WebTransportError("stream is closed", "stream");
    if (!(chunk instanceof Uint8Array)) throw new TypeError("chunk must be a Uint8Array");
    if (chunk.length === 0) return;
    this.enqueue(chunk);
    this.host.markDirty();
    if (!this.writeOpen) throw this.writeError;
    if (this.queued <= this.hwm) return;
    return new Promise<void>((resolve, reject) => {
      this.writeWaiter = { resolve, reject };
    });
  }

  /**
   * Hands queued bytes to quiche. Outside the connection's packet flush (`flushing` false) the last
   * chunk is held back, so that a close() in the same event-loop turn sends it with the FIN. A FIN
   * that finds no data left to ride with is written later, by flushLoneFin.
   */
  pumpWrite(flushing = true): void {
    while (this.writeOpen && this.queue.length > 0) {
      const head = this.queue[0] as Uint8Array;
      const last = this.queue.length === 1;
      if (last && !flushing && !this.finPending) break;
      const fin = last && this.finPending;
      const r = sendChunk(this.host.conn, this.id, head, fin);
      if (!r.ok) return this.failWrite(r.stopped);
      if (r.written > 0) this.lastHandoff = performance.now();
      this.queued -= r.written;
      if (r.written < head.length) {
        this.queue[0] = head.subarray(r.written);
        break;
      }
      this.queue.shift();
      if (fin) this.finished();
    }
    const loneFin = this.writeOpen && this.queue.length === 0 && this.finPending;
    this.host.setLoneFin(this, loneFin);
    if (loneFin) this.host.markDirty(); // flushLoneFin runs at the end of the connection's next pass
    this.host.setBlocked(this, this.writeOpen && this.queue.length > 0);
    if (this.writeWaiter && this.queued <= this.hwm) {
      this.writeWaiter.resolve();
      this.writeWaiter = null;
    }
  }

  /**
   * Writes a FIN that has no data left to ride with: a zero-length STREAM frame. Called by the host
   * right after quiche sent all it could, then sent at once; `quiet` when nothing is in flight.
   *
   * quiche 0.18 loses such FINs in two ways, and either leaves the peer reading every byte and then
   * waiting for the end forever, with no timer left on either side to repair it (the 30 s stall of
   * the 1 MiB echo on a loaded machine, where a full socket buffer had dropped packets):
   * - It counts a stream's send side complete once the bytes before the final offset are
   *   acknowledged, FIN or not (cloudflare/quiche#2525): an ACK for data still in flight collects
   *   the stream, and a FIN not yet sent, or lost, is never sent again.
   * - Written while the stream waits to retransmit lost data from before its end, the FIN is not
   *   scheduled on its own, and the retransmission does not carry it (only data reaching the final
   *   offset does): the stream leaves the send queue with the FIN unsent.
   * Written when nothing is in flight right after quiche emptied its send queue, neither can happen:
   * all data is acknowledged, the stream stays until the FIN itself is, and quiche does retransmit a
   * lost lone FIN of a stream it still holds. A connection that never goes quiet falls back to
   * writing the FIN LONE_FIN_MAX_WAIT_MS after the last data, which that data has almost surely
   * been acknowledged by. Without send capacity quiche would not schedule the FIN either: it waits.
   * A FIN that rides with data needs none of this, as any retransmission of that data carries it.
   */
  flushLoneFin(quiet: boolean): boolean {
    if (!this.writeOpen || this.queue.length > 0 || !this.finPending) {
      this.host.setLoneFin(this, false);
      return false;
    }
    const waited = performance.now() - this.lastHandoff;
    if (!quiet && this.lastHandoff !== 0 && waited < LONE_FIN_MAX_WAIT_MS) {
      // ACKs wake the connection when it goes quiet; this covers one that stays busy.
      this.finTimer ??= setTimeout(
        () => {
          this.finTimer = null;
          this.host.markDirty();
        },
        Math.ceil(LONE_FIN_MAX_WAIT_MS - waited) + 1,
      );
      this.finTimer.unref();
      return false;
    }
    if (this.capacity() <= 0) return false;
    const r = sendChunk(this.host.conn, this.id, EMPTY, true);
    if (!r.ok) {
      this.failWrite(r.stopped);
      return false;
    }
    this.finished();
    return true;
  }

  private clearFinTimer(): void {
    if (this.finTimer) clearTimeout(this.finTimer);
    this.finTimer = null;
  }

  private capacity(): number {
    try {
      return this.host.conn.streamCapacity(this.id);
    } catch {
      return 1; // stopped or gone: let the write attempt surface the error
    }
  }

  private finished(): void {
    this.writeOpen = false;
    this.clearFinTimer();
    this.host.setBlocked(this, false);
    this.host.setLoneFin(this, false);
    this.writeWaiter?.resolve();
    this.closeWaiter?.resolve();
    this.writeWaiter = this.closeWaiter = null;
    this.checkDone();
  }

  private close(): Promise<void> | void {
    if (!this.writeOpen) {
      if (this.writeError) throw this.writeError;
      return;
    }
    this.finPending = true;
    this.pumpWrite(false);
    this.host.markDirty();
    if (!this.writeOpen) {
      if (this.writeError) throw this.writeError;
      return;
    }
    return new Promise<void>((resolve, reject) => {
      this.closeWaiter = { resolve, reject };
    });
  }

  private failWrite(stopped: number | null): void {
    const code = stopped === null ? null : httpCodeToWt(stopped);
    this.abort(
      null,
      new WebTransportError(stopped === null ? "stream gone" : "stopped by peer", "stream", code),
    );
  }

  /** Resets the sending side (`resetCode` null: do not tell quiche, e.g. it already knows). */
  abort(resetCode: number | null, err: unknown): void {
    if (!this.writeOpen) return;
    this.writeOpen = false;
    this.writeError = err;
    if (resetCode !== null) shutdown(this.host.conn, this.id, false, resetCode);
    this.queue = [];
    this.queued = 0;
    this.clearFinTimer();
    this.host.setBlocked(this, false);
    this.host.setLoneFin(this, false);
    this.writeWaiter?.reject(err);
    this.closeWaiter?.reject(err);
    this.writeWaiter = this.closeWaiter = null;
    this.host.markDirty();
    this.checkDone();
  }

  /** Ends both directions because the session or connection is gone. */
  terminate(err: WebTransportError, resetCode: number | null): void {
    if (this.readOpen) {
      this.readOpen = false;
      if (resetCode !== null) shutdown(this.host.conn, this.id, true, resetCode);
      try {
        this.rc?.error(err);
      } catch {
        // already closed by the reader
      }
    }
    this.abort(resetCode, err);
    this.checkDone();
  }

  private doneReported = false;

  private checkDone(): void {
    this.host.watchFin(this, this.readOpen && !this.writeOpen);
    if (this.readOpen || this.writeOpen || this.doneReported) return;
    this.doneReported = true;
    this.owner?.delete(this);
    this.host.onStreamDone(this);
  }
}
