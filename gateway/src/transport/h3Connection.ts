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
import { encodeSettings, FrameReader, FrameType, parseSettings, Setting, StreamType } from "./h3frames.ts";
import type { ConnHandler, QuicConn } from "./quicEndpoint.ts";
import { QuicWebStream, recvChunk, shutdown, type StreamHost } from "./streamIo.ts";
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

interface ReadHandler {
  onReadable(): void;
}

const PREAMBLE_SCRATCH = new Uint8Array(16); // a stream type plus a session id never exceed 16 bytes

export class H3Connection implements ConnHandler, StreamHost, SessionHost {
  readonly conn: Connection;
  readonly scratch = new Uint8Array(64 * 1024);
  readonly sessions = new Map<number, WtSession>();
  /** The client's only session, created before the CONNECT is sent so `ready` can be handed out. */
  readonly clientSession: WtSession | null = null;
  private readonly readers = new Map<number, ReadHandler>();
  private readonly blocked = new Set<QuicWebStream>();
  private readonly finWatch = new Set<{ id: number; onReadable(): void }>();
  private readonly pending = new Map<number, Array<{ id: number; bidi: boolean; initial: Uint8Array; fin: boolean }>>();
  private pendingCount = 0;
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
  private peerUniSeen = new Set<number>();
  private highestRequestId = -1;
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

  get limits(): TransportLimits {
    return this.opts.limits;
  }

  markDirty(): void {
    this.qc.markDirty();
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
    for (const id of this.conn.readable()) {
      if (this.gone) return;
      this.onReadable(id);
    }
    for (let i = 0; i < 4096; i++) {
      const d = this.conn.dgramRecvVec();
      if (!d) break;
      this.onDatagram(d);
    }
    for (const s of [...this.blocked]) s.pumpWrite(true);
    for (const s of [...this.finWatch]) if (this.conn.streamFinished(s.id)) s.onReadable();
    this.serveOpenWaiters();
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

  private onReadable(id: number): void {
    let reader = this.readers.get(id);
    if (!reader) {
      const local = (id & 1) === (this.opts.role === "server" ? 1 : 0);
      if (local) {
        // A local stream we no longer track (e.g. a STOP_SENDING/reset after we finished): drain it.
        recvChunk(this.conn, id, this.scratch);
        return;
      }
      const r: ReadHandler = { onReadable: () => this.readPreamble(id, r) };
      reader = r;
      this.readers.set(id, reader);
    }
    reader.onReadable();
  }

  /** Reads the stream type (uni) or first varint (bidi), at most 16 bytes, then hands the stream on. */
  private readPreamble(id: number, self: ReadHandler & { buf?: Uint8Array }): void {
    const uni = (id & 2) !== 0;
    for (;;) {
      const r = recvChunk(this.conn, id, PREAMBLE_SCRATCH.subarray(0, 16 - (self.buf?.length ?? 0)));
      if (r.kind === "none") return;
      if (r.kind !== "data" || (r.fin && r.data.length === 0 && !self.buf)) {
        this.readers.delete(id); // peer gave up before saying what the stream is
        return;
      }
      const buf = self.buf ? Buffer.concat([self.buf, r.data]) : r.data;
      self.buf = buf;
      const type = readVarint(buf, 0);
      if (!type) {
        if (r.fin || buf.length >= 16) return this.rejectStream(id, H3.STREAM_CREATION_ERROR);
        continue;
      }
      if (uni) return this.onUniType(id, type.value, buf.subarray(type.next), r.fin);
      if (type.value !== FrameType.WT_STREAM) {
        if (this.opts.role === "client") return this.connectionError(H3.STREAM_CREATION_ERROR, "server bidi stream");
        const cs = new ConnectStream(this, id, null);
        this.highestRequestId = Math.max(this.highestRequestId, id);
        this.readers.set(id, cs);
        cs.onData(buf, r.fin);
        if (!r.fin) cs.onReadable(); // the rest of the HEADERS frame may already be waiting
        return;
      }
      const sid = readVarint(buf, type.next);
      if (!sid) {
        if (r.fin) return this.rejectStream(id, H3.STREAM_CREATION_ERROR);
        continue;
      }
      return this.routeWtStream(id, true, sid.value, buf.subarray(sid.next), r.fin);
    }
  }

  private onUniType(id: number, type: number, rest: Uint8Array, fin: boolean): void {
    if (type === StreamType.CONTROL || type === StreamType.QPACK_ENCODER || type === StreamType.QPACK_DECODER) {
      if (this.peerUniSeen.has(type)) return this.connectionError(H3.STREAM_CREATION_ERROR, "duplicate critical stream");
      this.peerUniSeen.add(type);
      const reader = type === StreamType.CONTROL ? new ControlReader(this) : new QpackReader(this, type);
      const handler = { onReadable: () => this.pumpCritical(id, reader) };
      this.readers.set(id, handler);
      reader.push(rest);
      if (fin) return this.connectionError(H3.CLOSED_CRITICAL_STREAM, "critical stream closed");
      return handler.onReadable();
    }
    if (type === StreamType.PUSH) {
      return this.connectionError(this.opts.role === "server" ? H3.STREAM_CREATION_ERROR : H3.ID_ERROR, "push stream");
    }
    if (type === StreamType.WT_UNI) {
      const sid = readVarint(rest, 0);
      if (sid) return this.routeWtStream(id, false, sid.value, rest.subarray(sid.next), fin);
      if (fin) return this.rejectStream(id, H3.STREAM_CREATION_ERROR);
      // Type read but session id split across packets: keep the partial preamble and wait.
      const partial = { buf: Uint8Array.from([...encodeVarint(type), ...rest]), onReadable: () => {} };
      partial.onReadable = () => this.readPreamble(id, partial);
      this.readers.set(id, partial);
      return;
    }
    // Unknown and GREASE stream types must be ignored (RFC 9114 §6.2): stop reading them.
    this.rejectStream(id, H3.STREAM_CREATION_ERROR);
  }

  private pumpCritical(id: number, reader: ControlReader | QpackReader): void {
    for (let i = 0; i < 64 && !this.gone; i++) {
      const r = recvChunk(this.conn, id, this.scratch);
      if (r.kind === "none") return;
      if (r.kind !== "data" || r.fin) {
        if (r.kind === "data") reader.push(r.data);
        return this.connectionError(H3.CLOSED_CRITICAL_STREAM, "critical stream closed");
      }
      reader.push(r.data);
    }
  }

  onPeerSettings(settings: Map<number, number>): void {
    this.peerSettings = settings;
    const req = this.opts.request;
    const session = this.clientSession;
    if (!req || !session) return;
    const wt =
      (settings.get(Setting.WEBTRANSPORT_MAX_SESSIONS_DRAFT07) ?? 0) > 0 ||
      settings.get(Setting.ENABLE_WEBTRANSPORT_DRAFT02) === 1;
    if (!wt || settings.get(Setting.ENABLE_CONNECT_PROTOCOL) !== 1 || settings.get(Setting.H3_DATAGRAM) !== 1) {
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

  /** A WebTransport stream announced its session id; attach it, park it, or refuse it. */
  private routeWtStream(id: number, bidi: boolean, sid: number, initial: Uint8Array, fin: boolean): void {
    const session = this.sessions.get(sid);
    if (session && session.state === "open") return this.attachStream(session, id, bidi, initial, fin);
    const mayComeLater =
      !session && (this.opts.role === "server" ? sid % 4 === 0 && sid > this.highestRequestId : false);
    if (session?.state === "connecting" || mayComeLater) {
      if (this.pendingCount >= this.limits.maxPendingStreams) return this.rejectStream(id, H3.WT_BUFFERED_STREAM_REJECTED, bidi);
      this.pendingCount++;
      const list = this.pending.get(sid) ?? [];
      list.push({ id, bidi, initial: initial.slice(), fin });
      this.pending.set(sid, list);
      this.readers.set(id, { onReadable: () => {} }); // leave data in quiche until the session exists
      return;
    }
    this.rejectStream(id, H3.WT_SESSION_GONE, bidi);
  }

  private attachStream(session: WtSession, id: number, bidi: boolean, initial: Uint8Array, fin: boolean): void {
    const hwm = this.limits.streamHighWaterMark;
    const s = new QuicWebStream(this, id, { read: true, write: bidi, hwm, initial, finished: fin });
    s.owner = session.streams;
    session._addIncoming(s, bidi);
    if (s.reading) {
      this.readers.set(id, s);
      s.pumpRead();
    } else {
      this.readers.delete(id);
    }
  }

  /** Called by ConnectStream when a session becomes open: release streams that raced ahead of it. */
  sessionOpened(session: WtSession): void {
    const list = this.pending.get(session.id);
    if (!list) return;
    this.pending.delete(session.id);
    this.pendingCount -= list.length;
    for (const p of list) this.attachStream(session, p.id, p.bidi, p.initial, p.fin);
  }

  registerSession(session: WtSession): void {
    this.sessions.set(session.id, session);
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
  }

  private rejectStream(id: number, code: number, bidi = (id & 2) === 0): void {
    shutdown(this.conn, id, true, code);
    if (bidi) shutdown(this.conn, id, false, code);
    this.readers.delete(id);
    this.markDirty();
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
    for (let i = 0; i < this.openWaiters.length; ) {
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
      const prefix = w.bidi ? encodeVarints(FrameType.WT_STREAM, w.session.id) : encodeVarints(StreamType.WT_UNI, w.session.id);
      const s = new QuicWebStream(this, id, { read: w.bidi, write: true, hwm: this.limits.streamHighWaterMark, prefix });
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
    const list = this.pending.get(session.id);
    if (list) {
      this.pending.delete(session.id);
      this.pendingCount -= list.length;
      for (const p of list) this.rejectStream(p.id, H3.WT_SESSION_GONE, p.bidi);
    }
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

  watchFin(stream: { id: number; onReadable(): void }, on: boolean): void {
    if (on) this.finWatch.add(stream);
    else this.finWatch.delete(stream);
  }

  onStreamDone(stream: QuicWebStream): void {
    this.blocked.delete(stream);
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
      this.rejectStream(id, err.code, true);
      return;
    }
    if (err instanceof H3Error) return this.connectionError(err.code, err.message);
    this.opts.onError?.(err);
    this.closeConnection(H3.INTERNAL_ERROR, "internal error", true);
  }

  closeConnection(code: number, reason: string, app: boolean): void {
    if (process.env.WTDEBUG) { const st = this.conn.stats(); console.log("conn stats@close", this.opts.role, "sent", st.sent, "lost", st.lost, "retrans", st.retrans, "recv", st.recv); }
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
    if (process.env.WTDEBUG) { const st = this.conn.stats(); console.log("conn stats", this.opts.role, "sent", st.sent, "lost", st.lost, "retrans", st.retrans, "recv", st.recv); }
    const err = this.conn.peerError() ?? this.conn.localError();
    const why = err ? `0x${err.errorCode.toString(16)} ${Buffer.from(err.reason).toString()}`.trim() : "idle timeout";
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

/** The peer's control stream: SETTINGS first, then only control frames. */
class ControlReader {
  private readonly frames = new FrameReader(16 * 1024);
  private gotSettings = false;

  constructor(private readonly h3: H3Connection) {}

  push(data: Uint8Array): void {
    this.frames.push(data);
    for (let i = 0; i < 1024 && !this.h3.isGone; i++) {
      const r = this.frames.next();
      if (!r) return;
      if (!r.ok) return this.h3.connectionError(r.error.code, r.error.message);
      const { type, payload } = r.value;
      if (!this.gotSettings) {
        if (type !== FrameType.SETTINGS) return this.h3.connectionError(H3.MISSING_SETTINGS, "first frame not SETTINGS");
        const s = parseSettings(payload);
        if (!s.ok) return this.h3.connectionError(s.error.code, s.error.message);
        this.gotSettings = true;
        this.h3.onPeerSettings(s.value);
        continue;
      }
      const server = this.h3.opts.role === "server";
      if (type === FrameType.GOAWAY || type === FrameType.CANCEL_PUSH || (type === FrameType.MAX_PUSH_ID && server)) continue;
      return this.h3.connectionError(H3.FRAME_UNEXPECTED, `frame ${type} on control stream`);
    }
  }
}

/**
 * The peer's QPACK encoder/decoder stream. With a zero-capacity table the only legal instructions are
 * "Set Dynamic Table Capacity 0" (encoder) and "Stream Cancellation" (decoder).
 */
class QpackReader {
  private buf: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly h3: H3Connection,
    private readonly type: number,
  ) {}

  push(data: Uint8Array): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    const encoder = this.type === StreamType.QPACK_ENCODER;
    const code = encoder ? H3.QPACK_ENCODER_STREAM_ERROR : H3.QPACK_DECODER_STREAM_ERROR;
    while (this.buf.length > 0) {
      const b = this.buf[0] as number;
      const prefix = encoder ? (b & 0xe0) === 0x20 && 5 : (b & 0xc0) === 0x40 && 6;
      if (!prefix) return this.h3.connectionError(code, "dynamic table instruction");
      let value = b & ((1 << prefix) - 1);
      let off = 1;
      if (value === (1 << prefix) - 1) {
        let more = true;
        for (let shift = 0; more; shift += 7) {
          const c = this.buf[off++];
          if (c === undefined) {
            if (this.buf.length > 16) return this.h3.connectionError(code, "integer too long");
            return;
          }
          value += (c & 0x7f) * 2 ** shift;
          more = (c & 0x80) !== 0;
          if (shift > 56) return this.h3.connectionError(code, "integer too long");
        }
      }
      if (encoder && value !== 0) return this.h3.connectionError(code, "dynamic table capacity above 0");
      this.buf = this.buf.subarray(off);
    }
  }
}
