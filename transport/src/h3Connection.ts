/**
 * The HTTP/3 layer of one QUIC connection: control and QPACK streams, SETTINGS, sorting incoming
 * streams by their preamble, WebTransport stream and datagram routing, and opening local streams.
 * Protocol violations close the stream or the connection with the matching H3 error code; nothing a
 * peer sends can make this throw into the event loop.
 */
import type { Connection } from "@matrixai/quic/native/types.js";
import type { TransportLimits } from "./config.ts";
import { ConnectStream, type ConnectRequest } from "./connectStream.ts";
import { H3, H3Error, WebTransportError } from "./errors.ts";
import type { ControlHost } from "./controlStreams.ts";
import { IncomingStreams } from "./incomingStreams.ts";
import { encodeSettings, FrameType, Setting, StreamType } from "./h3frames.ts";
import type { ConnHandler, QuicConn } from "./quicEndpoint.ts";
import { QuicWebStream, type StreamHost } from "./streamIo.ts";
import { encodeVarint, encodeVarints, readVarint } from "./varint.ts";
import type { SessionHost, WtSession } from "./wtSession.ts";

export interface H3Options {
  role: "server" | "client";
  limits: TransportLimits;
  /** Server: status for a CONNECT request (200 accepts; the session then goes to onSession). */
  onRequest?: (req: ConnectRequest) => number;
  onSession?: (session: WtSession, req: ConnectRequest) => void;
  /** Client: the request to send once the server's SETTINGS arrived, and the session it opens. */
  request?: { authority: string; path: string; origin?: string };
  clientSession?: WtSession;
  /** Client: checked right after the handshake (certificate pinning); an Error aborts the connection. */
  verifyPeer?: (conn: Connection) => Error | null;
  onError?: (err: unknown) => void;
  /** Called once the connection is gone (client: to close its socket). */
  onGone?: () => void;
}

export class H3Connection implements ConnHandler, StreamHost, SessionHost, ControlHost {
  readonly conn: Connection;
  readonly scratch = new Uint8Array(64 * 1024);
  readonly sessions = new Map<number, WtSession>();
  /** The client's only session, created before the CONNECT is sent so `ready` can be handed out. */
  readonly clientSession: WtSession | null = null;
  private readonly incoming = new IncomingStreams(this);
  private readonly readers = this.incoming.map;
  private readonly blocked = new Set<QuicWebStream>();
  private readonly finWatch = new Set<{ id: number; onReadable(): void }>();
  private readonly loneFins = new Set<QuicWebStream>();
  private readonly openWaiters: Array<{
    bidi: boolean;
    session: WtSession;
    resolve: (s: QuicWebStream) => void;
    reject: (err: unknown) => void;
  }> = [];
  private nextBidi: number;
  private nextUni: number;
  private started = false;
  private peerSettings: Map<number, number> | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
  private gone = false;
  private endedSessions = 0;

  constructor(
    readonly qc: QuicConn,
    readonly opts: H3Options,
  ) {
    this.conn = qc.conn;
    const client = opts.role === "client";
    this.nextBidi = client ? 0 : 1;
    this.nextUni = client ? 2 : 3;
    if (client && opts.clientSession) {
      this.clientSession = opts.clientSession;
      this.clientSession._attach(this);
    }
  }

  get role(): "server" | "client" {
    return this.opts.role;
  }

  get limits(): TransportLimits {
    return this.opts.limits;
  }

  markDirty(): void {
    this.qc.markDirty();
  }

  /** Lone FINs are written only here, right after quiche sent all it could (see flushLoneFin). */
  afterFlush(): boolean {
    if (this.loneFins.size === 0 || this.gone) return false;
    const quiet = this.nothingInFlight();
    let wrote = false;
    for (const s of [...this.loneFins]) if (s.flushLoneFin(quiet)) wrote = true;
    return wrote;
  }

  /**
   * quiche arms its loss-detection timer exactly while ack-eliciting packets are in flight; otherwise
   * its only timer is the idle one, restarted by the last packet received (or by a send after it,
   * which only makes it later). A timeout clearly sooner than that idle deadline is loss detection.
   */
  private nothingInFlight(): boolean {
    const timeout = this.conn.timeout();
    if (timeout === null) return true;
    const peerIdle = this.conn.stats().peerMaxIdleTimeout;
    const idle = peerIdle > 0 ? Math.min(peerIdle, this.limits.idleTimeoutMs) : this.limits.idleTimeoutMs;
    const idleLeft = idle - (performance.now() - this.qc.lastRecv);
    return timeout >= idleLeft - Math.min(1000, idle / 4);
  }

  process(): void {
    if (this.gone) return;
    if (!this.started) {
      if (!this.conn.isEstablished()) return;
      this.started = true;
      const bad = this.opts.verifyPeer?.(this.conn);
      if (bad) {
        this.clientSession?._fail(bad);
        this.gone = true; // stop processing; the close follows
        // Close in the next pass: this one still flushes our TLS Finished, without which the server
        // could not read the CONNECTION_CLOSE (it would hold the connection until its idle timeout).
        setImmediate(() => {
          this.gone = false;
          this.closeConnection(0x100 + 42, bad.message, false); // TLS bad_certificate
        });
        return;
      }
      this.openControlStreams();
    }
    this.readStreams();
    for (let i = 0; i < 4096; i++) {
      const d = this.conn.dgramRecvVec();
      if (!d) break;
      this.onDatagram(d);
    }
    for (const s of [...this.blocked]) s.pumpWrite(true);
    for (const s of [...this.finWatch]) if (this.conn.streamFinished(s.id)) s.onReadable();
    this.serveOpenWaiters();
  }

  /**
   * The binding's readable() costs ~20 µs per call even when empty, while isReadable() and
   * streamReadable() cost ~0.25 µs: known streams are polled first, and readable() is only asked when
   * something is left (a new stream, or one whose reader is paused).
   */
  private readStreams(): void {
    if (!this.conn.isReadable()) return;
    if (this.readers.size <= 32) {
      for (const [id, reader] of this.readers) {
        if (this.gone) return;
        if (this.conn.streamReadable(id)) reader.onReadable();
      }
      if (!this.conn.isReadable()) return;
    }
    for (const id of this.conn.readable()) {
      if (this.gone) return;
      this.incoming.onReadable(id);
    }
  }

  private openControlStreams(): void {
    const settings = new Map<number, number>([
      [Setting.QPACK_MAX_TABLE_CAPACITY, 0],
      [Setting.QPACK_BLOCKED_STREAMS, 0],
      [Setting.MAX_FIELD_SECTION_SIZE, this.limits.maxHeaderBytes],
      [Setting.H3_DATAGRAM, 1],
      // Both WebTransport generations Chromium understands: it picks the newest both sides support.
      [Setting.ENABLE_WEBTRANSPORT_DRAFT02, 1],
      [Setting.WEBTRANSPORT_MAX_SESSIONS_DRAFT07, this.limits.maxSessionsPerConnection],
    ]);
    if (this.opts.role === "server") settings.set(Setting.ENABLE_CONNECT_PROTOCOL, 1);
    const control = this.allocate(false);
    this.conn.streamSend(control, encodeVarint(StreamType.CONTROL), false);
    this.conn.streamSend(control, encodeSettings(settings), false);
    this.conn.streamSend(this.allocate(false), encodeVarint(StreamType.QPACK_ENCODER), false);
    this.conn.streamSend(this.allocate(false), encodeVarint(StreamType.QPACK_DECODER), false);
  }

  private allocate(bidi: boolean): number {
    const id = bidi ? this.nextBidi : this.nextUni;
    if (bidi) this.nextBidi += 4;
    else this.nextUni += 4;
    return id;
  }

  onPeerSettings(settings: Map<number, number>): void {
    this.peerSettings = settings;
    const req = this.opts.request;
    const session = this.clientSession;
    if (!req || !session || session.state !== "connecting") return;
    const wt =
      (settings.get(Setting.WEBTRANSPORT_MAX_SESSIONS_DRAFT07) ?? 0) > 0 ||
      settings.get(Setting.ENABLE_WEBTRANSPORT_DRAFT02) === 1;
    if (
      !wt ||
      settings.get(Setting.ENABLE_CONNECT_PROTOCOL) !== 1 ||
      settings.get(Setting.H3_DATAGRAM) !== 1
    ) {
      session._fail(new WebTransportError("server does not support WebTransport", "session"));
      return;
    }
    const id = this.allocate(true);
    const cs = new ConnectStream(this, id, session);
    this.readers.set(id, cs);
    this.sessions.set(id, session);
    cs.sendRequest(req.authority, req.path, req.origin);
  }

  get peerSettingsReceived(): boolean {
    return this.peerSettings !== null;
  }

  sessionOpened(session: WtSession): void {
    this.incoming.sessionOpened(session);
  }

  registerSession(session: WtSession): void {
    this.sessions.set(session.id, session);
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
  }

  private onDatagram(d: Uint8Array): void {
    const q = readVarint(d, 0);
    if (!q) return;
    this.sessions.get(q.value * 4)?._onDatagram(d.subarray(q.next));
  }

  // ---- SessionHost -------------------------------------------------------------------------------

  openStream(session: WtSession, bidi: boolean): Promise<QuicWebStream> {
    return new Promise((resolve, reject) => {
      this.openWaiters.push({ bidi, session, resolve, reject });
      this.serveOpenWaiters();
      this.markDirty();
    });
  }

  private serveOpenWaiters(): void {
    for (let i = 0; i < this.openWaiters.length;) {
      const w = this.openWaiters[i] as (typeof this.openWaiters)[number];
      if (w.session.state !== "open" || this.gone) {
        this.openWaiters.splice(i, 1);
        w.reject(new WebTransportError("session is closed", "session"));
        continue;
      }
      const left = w.bidi ? this.conn.peerStreamsLeftBidi() : this.conn.peerStreamsLeftUni();
      if (left <= 0) {
        i++;
        continue;
      }
      this.openWaiters.splice(i, 1);
      const id = this.allocate(w.bidi);
      const prefix = w.bidi
        ? encodeVarints(FrameType.WT_STREAM, w.session.id)
        : encodeVarints(StreamType.WT_UNI, w.session.id);
      const s = new QuicWebStream(this, id, {
        read: w.bidi,
        write: true,
        hwm: this.limits.streamHighWaterMark,
        prefix,
      });
      s.owner = w.session.streams;
      w.session.streams.add(s);
      if (w.bidi) this.readers.set(id, s);
      w.resolve(s);
    }
  }

  sendDatagram(session: WtSession, data: Uint8Array): void {
    const prefix = encodeVarint(session.id / 4);
    const max = this.conn.dgramMaxWritableLen();
    if (max === null || prefix.length + data.length > max) return; // too big or disabled: dropped
    try {
      this.conn.dgramSendVec(Buffer.concat([prefix, data]));
    } catch {
      return; // queue full: datagrams are droppable by contract
    }
    this.markDirty();
  }

  maxDatagramSize(): number {
    const max = this.conn.dgramMaxWritableLen();
    return max === null ? 0 : Math.max(0, max - 8);
  }

  sendClose(session: WtSession, code: number, reason: string): void {
    const cs = this.readers.get(session.id);
    if (cs instanceof ConnectStream) cs.sendClose(code, reason);
  }

  onSessionEnded(session: WtSession): void {
    this.sessions.delete(session.id);
    this.endedSessions++;
    this.incoming.dropPending(session.id);
    this.markDirty();
    if (this.sessions.size > 0 || this.gone) return;
    // Chromium keeps the QUIC connection after the page closed its session: close it ourselves, a
    // little later so the close capsule and FIN get out (and a quick new session may reuse it).
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = null;
      if (this.sessions.size === 0) this.closeConnection(H3.NO_ERROR, "", true);
    }, this.limits.lingerMs);
    this.lingerTimer.unref();
  }

  // ---- StreamHost --------------------------------------------------------------------------------

  setBlocked(stream: QuicWebStream, blocked: boolean): void {
    if (blocked) this.blocked.add(stream);
    else this.blocked.delete(stream);
  }

  setLoneFin(stream: QuicWebStream, pending: boolean): void {
    if (pending) this.loneFins.add(stream);
    else this.loneFins.delete(stream);
  }

  watchFin(stream: { id: number; onReadable(): void }, on: boolean): void {
    if (on) this.finWatch.add(stream);
    else this.finWatch.delete(stream);
  }

  onStreamDone(stream: QuicWebStream): void {
    this.blocked.delete(stream);
    this.loneFins.delete(stream);
    this.finWatch.delete(stream);
    if (this.readers.get(stream.id) === stream) this.readers.delete(stream.id);
  }

  forgetStream(id: number): void {
    const reader = this.readers.get(id);
    if (reader) this.finWatch.delete(reader as { id: number; onReadable(): void });
    this.readers.delete(id);
  }

  // ---- errors and teardown -----------------------------------------------------------------------

  connectionError(code: number, reason: string): void {
    this.opts.onError?.(new H3Error(code, reason));
    this.closeConnection(code, reason, true);
  }

  /** Handles an error from a stream parser: stream errors reset the stream, others close the connection. */
  streamFailed(id: number, err: unknown): void {
    if (err instanceof H3Error && err.streamOnly) {
      this.incoming.reject(id, err.code, true);
      return;
    }
    if (err instanceof H3Error) return this.connectionError(err.code, err.message);
    this.opts.onError?.(err);
    this.closeConnection(H3.INTERNAL_ERROR, "internal error", true);
  }

  closeConnection(code: number, reason: string, app: boolean): void {
    if (!this.gone) {
      try {
        this.conn.close(app, code, Buffer.from(reason.slice(0, 100)));
      } catch {
        // already closing
      }
    }
    this.teardown(`connection closed (${code.toString(16)}${reason ? ": " + reason : ""})`);
    this.markDirty();
  }

  onClosed(): void {
    const err = this.conn.peerError() ?? this.conn.localError();
    const why = err
      ? `0x${err.errorCode.toString(16)} ${Buffer.from(err.reason).toString()}`.trim()
      : "idle timeout";
    this.teardown(`connection closed (${why})`);
  }

  private teardown(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    const err = new WebTransportError(reason, "session");
    for (const s of [...this.sessions.values()]) {
      if (s.state === "connecting") s._fail(err);
      else s._finish({ closeCode: 0, reason }, null);
    }
    this.clientSession?._fail(err);
    this.serveOpenWaiters();
    this.blocked.clear();
    this.finWatch.clear();
    this.loneFins.clear();
    this.readers.clear();
    this.opts.onGone?.();
  }

  /** CONNECT streams the peer has not finished yet (a graceful shutdown waits for them). */
  get hasOpenConnectStreams(): boolean {
    if (this.gone) return false;
    for (const r of this.readers.values()) if (r instanceof ConnectStream) return true;
    return false;
  }

  get isGone(): boolean {
    return this.gone;
  }

  get sessionsEnded(): number {
    return this.endedSessions;
  }
}
