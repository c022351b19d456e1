/**
 * Sorting the peer's new streams by their preamble (RFC 9114 §6, draft-ietf-webtrans-http3 §4): HTTP/3
 * critical streams, request (CONNECT) streams, and WebTransport streams, which are attached to their
 * session, parked briefly if it is not established yet, or refused.
 */
import { ConnectStream } from "./connectStream.ts";
import { ControlReader, QpackReader } from "./controlStreams.ts";
import { H3 } from "./errors.ts";
import { FrameType, StreamType } from "./h3frames.ts";
import type { H3Connection } from "./h3Connection.ts";
import { QuicWebStream, recvChunk, shutdown } from "./streamIo.ts";
import { encodeVarint, readVarint } from "./varint.ts";
import type { WtSession } from "./wtSession.ts";

export interface ReadHandler {
  onReadable(): void;
}

const PREAMBLE_SCRATCH = new Uint8Array(16); // a stream type plus a session id never exceed 16 bytes

interface Parked {
  id: number;
  bidi: boolean;
  initial: Uint8Array;
  fin: boolean;
}

export class IncomingStreams {
  /** Every stream we read from, by id: preamble readers, critical streams, CONNECT and WT streams. */
  readonly map = new Map<number, ReadHandler>();
  private readonly pending = new Map<number, Parked[]>();
  private pendingCount = 0;
  private readonly peerUniSeen = new Set<number>();
  private highestRequestId = -1;

  constructor(private readonly h3: H3Connection) {}

  onReadable(id: number): void {
    let reader = this.map.get(id);
    if (!reader) {
      const local = (id & 1) === (this.h3.role === "server" ? 1 : 0);
      if (local) {
        // A local stream we no longer track (e.g. a STOP_SENDING/reset after we finished): drain it.
        recvChunk(this.h3.conn, id, this.h3.scratch);
        return;
      }
      const r: ReadHandler = { onReadable: () => this.readPreamble(id, r) };
      reader = r;
      this.map.set(id, reader);
    }
    reader.onReadable();
  }

  /** Reads the stream type (uni) or first varint (bidi), at most 16 bytes, then hands the stream on. */
  private readPreamble(id: number, self: ReadHandler & { buf?: Uint8Array }): void {
    const uni = (id & 2) !== 0;
    for (;;) {
      const r = recvChunk(this.h3.conn, id, PREAMBLE_SCRATCH.subarray(0, 16 - (self.buf?.length ?? 0)));
      if (r.kind === "none") return;
      if (r.kind !== "data" || (r.fin && r.data.length === 0 && !self.buf)) {
        this.map.delete(id); // peer gave up before saying what the stream is
        return;
      }
      const buf = self.buf ? Buffer.concat([self.buf, r.data]) : r.data;
      self.buf = buf;
      const type = readVarint(buf, 0);
      if (!type) {
        if (r.fin || buf.length >= 16) return this.reject(id, H3.STREAM_CREATION_ERROR);
        continue;
      }
      if (uni) return this.onUniType(id, type.value, buf.subarray(type.next), r.fin);
      if (type.value !== FrameType.WT_STREAM) {
        if (this.h3.role === "client")
          return this.h3.connectionError(H3.STREAM_CREATION_ERROR, "server bidi stream");
        const cs = new ConnectStream(this.h3, id, null);
        this.highestRequestId = Math.max(this.highestRequestId, id);
        this.map.set(id, cs);
        cs.onData(buf, r.fin);
        if (!r.fin) cs.onReadable(); // the rest of the HEADERS frame may already be waiting
        return;
      }
      const sid = readVarint(buf, type.next);
      if (!sid) {
        if (r.fin) return this.reject(id, H3.STREAM_CREATION_ERROR);
        continue;
      }
      return this.routeWtStream(id, true, sid.value, buf.subarray(sid.next), r.fin);
    }
  }

  private onUniType(id: number, type: number, rest: Uint8Array, fin: boolean): void {
    if (
      type === StreamType.CONTROL ||
      type === StreamType.QPACK_ENCODER ||
      type === StreamType.QPACK_DECODER
    ) {
      if (this.peerUniSeen.has(type))
        return this.h3.connectionError(H3.STREAM_CREATION_ERROR, "duplicate critical stream");
      this.peerUniSeen.add(type);
      const reader =
        type === StreamType.CONTROL ? new ControlReader(this.h3) : new QpackReader(this.h3, type);
      const handler = { onReadable: () => this.pumpCritical(id, reader) };
      this.map.set(id, handler);
      reader.push(rest);
      if (fin) return this.h3.connectionError(H3.CLOSED_CRITICAL_STREAM, "critical stream closed");
      return handler.onReadable();
    }
    if (type === StreamType.PUSH) {
      return this.h3.connectionError(
        this.h3.role === "server" ? H3.STREAM_CREATION_ERROR : H3.ID_ERROR,
        "push stream",
      );
    }
    if (type === StreamType.WT_UNI) {
      const sid = readVarint(rest, 0);
      if (sid) return this.routeWtStream(id, false, sid.value, rest.subarray(sid.next), fin);
      if (fin) return this.reject(id, H3.STREAM_CREATION_ERROR);
      // Type read but session id split across packets: keep the partial preamble and wait.
      const partial = { buf: Uint8Array.from([...encodeVarint(type), ...rest]), onReadable: () => {} };
      partial.onReadable = () => this.readPreamble(id, partial);
      this.map.set(id, partial);
      return;
    }
    // Unknown and GREASE stream types must be ignored (RFC 9114 §6.2): stop reading them.
    this.reject(id, H3.STREAM_CREATION_ERROR);
  }

  private pumpCritical(id: number, reader: ControlReader | QpackReader): void {
    for (let i = 0; i < 64 && !this.h3.isGone; i++) {
      const r = recvChunk(this.h3.conn, id, this.h3.scratch);
      if (r.kind === "none") return;
      if (r.kind !== "data" || r.fin) {
        if (r.kind === "data") reader.push(r.data);
        return this.h3.connectionError(H3.CLOSED_CRITICAL_STREAM, "critical stream closed");
      }
      reader.push(r.data);
    }
  }

  /** A WebTransport stream announced its session id; attach it, park it, or refuse it. */
  private routeWtStream(id: number, bidi: boolean, sid: number, initial: Uint8Array, fin: boolean): void {
    const session = this.h3.sessions.get(sid);
    if (session && session.state === "open") return this.attachStream(session, id, bidi, initial, fin);
    const mayComeLater =
      !session && (this.h3.role === "server" ? sid % 4 === 0 && sid > this.highestRequestId : false);
    if (session?.state === "connecting" || mayComeLater) {
      if (this.pendingCount >= this.h3.limits.maxPendingStreams)
        return this.reject(id, H3.WT_BUFFERED_STREAM_REJECTED, bidi);
      this.pendingCount++;
      const list = this.pending.get(sid) ?? [];
      list.push({ id, bidi, initial: initial.slice(), fin });
      this.pending.set(sid, list);
      this.map.set(id, { onReadable: () => {} }); // leave data in quiche until the session exists
      return;
    }
    this.reject(id, H3.WT_SESSION_GONE, bidi);
  }

  private attachStream(
    session: WtSession,
    id: number,
    bidi: boolean,
    initial: Uint8Array,
    fin: boolean,
  ): void {
    const hwm = this.h3.limits.streamHighWaterMark;
    const s = new QuicWebStream(this.h3, id, { read: true, write: bidi, hwm, initial, finished: fin });
    s.owner = session.streams;
    session._addIncoming(s, bidi);
    if (s.reading) {
      this.map.set(id, s);
      s.pumpRead();
    } else {
      this.map.delete(id);
    }
  }

  /** A session became open: release the streams that raced ahead of it. */
  sessionOpened(session: WtSession): void {
    const list = this.pending.get(session.id);
    if (!list) return;
    this.pending.delete(session.id);
    this.pendingCount -= list.length;
    for (const p of list) this.attachStream(session, p.id, p.bidi, p.initial, p.fin);
  }

  reject(id: number, code: number, bidi = (id & 2) === 0): void {
    shutdown(this.h3.conn, id, true, code);
    if (bidi) shutdown(this.h3.conn, id, false, code);
    this.map.delete(id);
    this.h3.markDirty();
  }

  /** The session ended: refuse the streams still waiting for it. */
  dropPending(sessionId: number): void {
    const list = this.pending.get(sessionId);
    if (!list) return;
    this.pending.delete(sessionId);
    this.pendingCount -= list.length;
    for (const p of list) this.reject(p.id, H3.WT_SESSION_GONE, p.bidi);
  }
}
