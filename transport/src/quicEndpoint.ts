/**
 * One UDP socket and the quiche connections behind it. Packets are fed to quiche as they arrive, but
 * the work that follows (stream processing, building and sending packets) runs once per event-loop turn
 * for every connection touched in that turn: measured 5 MiB/s when done per packet, 60 MiB/s batched.
 */
import dgram from "node:dgram";
import { randomBytes } from "node:crypto";
import { quiche } from "@matrixai/quic/native/index.js";
import type { Config, Connection, Host, RecvInfo } from "@matrixai/quic/native/types.js";
import type { AdmissionLimits, Ticket } from "./admission.ts";
import { DEFAULT_LIMITS } from "./config.ts";
import { InitialGate } from "./initialGate.ts";

const CID_LEN = 20;
/**
 * Socket buffers asked of the kernel. Linux's default receive buffer (net.core.rmem_default, often
 * 208 KiB) holds about 150 full packets: a congestion window's burst from a fast peer, arriving while
 * a loaded event loop is busy elsewhere, overflows it, and every datagram dropped there is a loss
 * quiche has to detect and repair. The kernel caps the request at net.core.rmem_max / wmem_max
 * (raise those on servers; nothing fails when they are lower).
 */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/** Packets built per flush; a pass that reaches it schedules another rather than block the loop. */
const MAX_PACKETS_PER_FLUSH = 10_000;

export interface ConnHandler {
  /** Reads streams and reacts; runs after incoming packets and after local activity, before sending. */
  process(): void;
  /**
   * Runs once quiche had nothing more to send (or no window to send it in); returns true if it gave
   * quiche something new, which is then sent at once. For writes that must not overlap with queued
   * retransmissions (see QuicWebStream.flushLoneFin).
   */
  afterFlush?(): boolean;
  /** Called once, when quiche starts draining or has closed the connection. */
  onClosed(): void;
}

export class QuicConn {
  handler: ConnHandler | null = null;
  dirty = false;
  inService = false;
  closedNotified = false;
  timer: NodeJS.Timeout | null = null;
  deadline = 0;
  readonly ids: string[] = [];
  recvInfo: RecvInfo | null = null;
  /** performance.now() of the last packet fed to quiche: its idle timer restarts there. */
  lastRecv = performance.now();
  /** Server side: the connection's place in the admission counts, and its handshake deadline. */
  ticket: Ticket | null = null;

  constructor(
    readonly endpoint: QuicEndpoint,
    readonly conn: Connection,
    readonly remote: Host,
  ) {}

  /** Asks for a process+send pass in this event-loop turn (or right after the current one). */
  markDirty(): void {
    if (this.inService || this.dirty) return;
    this.dirty = true;
    this.endpoint.schedule(this);
  }
}

export interface EndpointOptions {
  host: string;
  port: number;
  maxUdpPayload: number;
  /**
   * Server role: build a connection (acceptConnection) for a new Initial packet, or return null to
   * drop it. `odcid` is set when the Initial came back through a Retry.
   */
  accept?: (
    endpoint: QuicEndpoint,
    dcid: Uint8Array,
    remote: Host,
    odcid: Uint8Array | null,
  ) => QuicConn | null;
  /** Server role: which Initials may open a connection (admission.ts); DEFAULT_LIMITS' if unset. */
  admission?: AdmissionLimits & { handshakeTimeoutMs: number };
  onError?: (err: unknown) => void;
  /** Rare operational events (a flood starting and ending), for the operator's log. */
  onNotice?: (msg: string, fields: Record<string, unknown>) => void;
}

export class QuicEndpoint {
  readonly conns = new Set<QuicConn>();
  private readonly byId = new Map<string, QuicConn>();
  private dirtyList: QuicConn[] = [];
  private scheduled = false;
  private closing = false;
  readonly local: Host;
  readonly gate: InitialGate | null;

  private constructor(
    readonly socket: dgram.Socket,
    private readonly opts: EndpointOptions,
  ) {
    const addr = socket.address();
    this.local = { host: addr.address, port: addr.port };
    const send = (packet: Uint8Array, to: Host) => this.socket.send(packet, to.port, to.host);
    const admission = opts.admission ?? DEFAULT_LIMITS;
    this.gate = opts.accept ? new InitialGate(admission, opts.maxUdpPayload, send, opts.onNotice) : null;
    socket.on("message", (msg, rinfo) => this.onPacket(msg, rinfo));
    socket.on("error", (err) => this.report(err));
  }

  static async bind(opts: EndpointOptions): Promise<QuicEndpoint> {
    const v6 = opts.host.includes(":");
    // "::" also accepts IPv4 (mapped) so that browsers resolving "localhost" to either family connect.
    const socket = dgram.createSocket({ type: v6 ? "udp6" : "udp4", ipv6Only: false });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(opts.port, opts.host, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    for (const set of [
      (n: number) => socket.setRecvBufferSize(n),
      (n: number) => socket.setSendBufferSize(n),
    ]) {
      try {
        set(SOCKET_BUFFER_BYTES);
      } catch {
        // Refused outright (some sandboxes): the default buffers still work, with more loss.
      }
    }
    return new QuicEndpoint(socket, opts);
  }

  get port(): number {
    return this.local.port;
  }

  /**
   * Creates a server-side connection for an Initial packet; registers both ids the peer may use.
   * After a Retry our id is the one the Retry chose, which is the Initial's DCID, and quiche needs
   * the client's first DCID (odcid) to put both in its transport parameters (RFC 9000 §7.3).
   */
  acceptConnection(
    config: Config,
    dcid: Uint8Array,
    remote: Host,
    odcid: Uint8Array | null = null,
  ): QuicConn {
    const scid = odcid ? dcid : randomBytes(CID_LEN);
    const conn = quiche.Connection.accept(scid, odcid, this.local, remote, config);
    const qc = new QuicConn(this, conn, remote);
    this.register(qc, dcid);
    if (!odcid) this.register(qc, scid);
    return qc;
  }

  /** Creates a client-side connection and sends its first flight. */
  connect(config: Config, serverName: string | null, remote: Host): QuicConn {
    const scid = randomBytes(CID_LEN);
    const conn = quiche.Connection.connect(serverName, scid, this.local, remote, config);
    const qc = new QuicConn(this, conn, remote);
    this.register(qc, scid);
    return qc;
  }

  private register(qc: QuicConn, id: Uint8Array): void {
    const key = Buffer.from(id).toString("latin1");
    qc.ids.push(key);
    this.byId.set(key, qc);
    this.conns.add(qc);
  }

  /**
   * The destination connection id, read in JS (RFC 9000 §17): a native Header.fromSlice per packet
   * costs more than the rest of the routing, so it is only used for packets that may open a connection.
   */
  private static dcidKey(msg: Buffer): string | null {
    const first = msg[0];
    if (first === undefined) return null;
    if ((first & 0x80) === 0) return msg.length > CID_LEN ? msg.toString("latin1", 1, 1 + CID_LEN) : null;
    const len = msg[5];
    if (len === undefined || len > CID_LEN || msg.length < 6 + len) return null;
    return msg.toString("latin1", 6, 6 + len);
  }

  private onPacket(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    try {
      const key = this.opts.accept ? QuicEndpoint.dcidKey(msg) : null;
      let qc = key === null ? undefined : this.byId.get(key);
      if (!this.opts.accept) qc = this.conns.values().next().value;
      if (!qc) {
        if (!this.gate || !this.opts.accept || this.closing || key === null) return;
        const remote = { host: rinfo.address, port: rinfo.port };
        const admitted = this.gate.screen(msg, remote);
        if (!admitted) return;
        const accepted = this.opts.accept(this, admitted.dcid, remote, admitted.odcid);
        if (!accepted) return;
        qc = accepted;
        // No CONNECTION_CLOSE at the deadline: the address may be forged, and a real client gave up.
        qc.ticket = this.gate.take(admitted, () => !accepted.conn.isEstablished() && this.retire(accepted));
        this.feed(qc, msg, rinfo);
        // An Initial that quiche could not use (garbage that merely parsed as a header) must not
        // leave a connection behind until the idle timeout.
        if (qc.conn.stats().recv === 0) {
          this.retire(qc);
          return;
        }
      } else {
        this.feed(qc, msg, rinfo);
      }
      qc.markDirty();
    } catch (err) {
      this.report(err);
    }
  }

  private feed(qc: QuicConn, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    let info = qc.recvInfo;
    if (!info || info.from.port !== rinfo.port || info.from.host !== rinfo.address) {
      info = qc.recvInfo = { from: { host: rinfo.address, port: rinfo.port }, to: this.local };
    }
    qc.lastRecv = performance.now();
    try {
      // quiche decrypts in place; the Buffer from dgram is ours alone.
      qc.conn.recv(msg, info);
    } catch {
      // Undecryptable or otherwise bad packets are reported by quiche as errors; the connection
      // itself decides whether that is fatal (visible through isClosed/isDraining later).
    }
  }

  schedule(qc: QuicConn): void {
    this.dirtyList.push(qc);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.runBatch);
  }

  private readonly runBatch = (): void => {
    this.scheduled = false;
    const list = this.dirtyList;
    this.dirtyList = [];
    for (const qc of list) {
      qc.dirty = false;
      this.service(qc);
    }
  };

  /** Process, send everything quiche has, re-arm the timer, and retire the connection if closed. */
  service(qc: QuicConn): void {
    if (!this.conns.has(qc)) return;
    qc.inService = true;
    try {
      if (!qc.closedNotified && (qc.conn.isClosed() || qc.conn.isDraining())) this.notifyClosed(qc);
      if (!qc.closedNotified) qc.handler?.process();
    } catch (err) {
      this.report(err);
      try {
        qc.conn.close(true, 0x102, Buffer.from("internal error"));
      } catch {
        // already closing
      }
    } finally {
      qc.inService = false;
    }
    this.flushPackets(qc);
    if (!qc.closedNotified && qc.handler?.afterFlush) {
      qc.inService = true;
      let more = false;
      try {
        more = qc.handler.afterFlush();
      } catch (err) {
        this.report(err);
      } finally {
        qc.inService = false;
      }
      if (more) this.flushPackets(qc);
    }
    if (qc.conn.isClosed()) {
      this.retire(qc);
      return;
    }
    if (qc.ticket?.handshaking && qc.conn.isEstablished()) this.gate?.established(qc.ticket);
    if (!qc.closedNotified && qc.conn.isDraining()) this.notifyClosed(qc);
    this.arm(qc);
  }

  private notifyClosed(qc: QuicConn): void {
    qc.closedNotified = true;
    try {
      qc.handler?.onClosed();
    } catch (err) {
      this.report(err);
    }
  }

  /**
   * Hands every packet quiche has to the socket. A full socket send buffer needs no retry loop here:
   * Node tries the send and on EAGAIN queues the datagram in libuv, which sends it once the socket is
   * writable (libuv waits out ENOBUFS the same way). A datagram that fails otherwise is dropped, which
   * to quiche is a lost packet that it detects and retransmits.
   */
  private flushPackets(qc: QuicConn): void {
    const size = this.opts.maxUdpPayload;
    for (let i = 0; i < MAX_PACKETS_PER_FLUSH; i++) {
      const buf = Buffer.allocUnsafe(size);
      let result;
      try {
        result = qc.conn.send(buf);
      } catch (err) {
        this.report(err);
        return;
      }
      if (result === null || this.socketClosed) return;
      const [len, info] = result;
      this.socket.send(buf.subarray(0, len), info.to.port, info.to.host);
    }
    // Still more to send: nothing else may wake this connection soon (no ACK is due for packets not
    // yet sent), so come back in the next event-loop turn.
    qc.markDirty();
  }

  /** One timer per connection; an early timer is kept and simply re-armed when it fires. */
  private arm(qc: QuicConn): void {
    const timeout = qc.conn.timeout();
    if (timeout === null) {
      if (qc.timer) clearTimeout(qc.timer);
      qc.timer = null;
      return;
    }
    const deadline = performance.now() + timeout;
    if (qc.timer && qc.deadline <= deadline + 1) return;
    if (qc.timer) clearTimeout(qc.timer);
    qc.deadline = deadline;
    qc.timer = setTimeout(
      () => {
        qc.timer = null;
        try {
          qc.conn.onTimeout();
        } catch (err) {
          this.report(err);
        }
        this.service(qc);
      },
      Math.max(0, Math.ceil(timeout)),
    );
    qc.timer.unref();
  }

  /** Returns true, for callers that reap in an expression. */
  private retire(qc: QuicConn): true {
    if (!qc.closedNotified) this.notifyClosed(qc);
    if (qc.timer) clearTimeout(qc.timer);
    qc.timer = null;
    if (qc.ticket) this.gate?.release(qc.ticket);
    for (const id of qc.ids) if (this.byId.get(id) === qc) this.byId.delete(id);
    this.conns.delete(qc);
    return true;
  }

  /** Stops accepting connections; existing ones keep running until closed by their owners. */
  stopAccepting(): void {
    this.closing = true;
  }

  /** Closes every connection abruptly (after sending CONNECTION_CLOSE) and the socket. */
  close(): Promise<void> {
    // Assigned before any work runs: closing connections calls back into handlers that may call
    // close() again.
    this.closePromise ??= Promise.resolve().then(() => this.closeOnce());
    return this.closePromise;
  }

  private closePromise: Promise<void> | null = null;
  private socketClosed = false;

  private async closeOnce(): Promise<void> {
    this.closing = true;
    this.gate?.stop();
    for (const qc of [...this.conns]) {
      try {
        qc.conn.close(true, 0x100, new Uint8Array(0));
      } catch {
        // already closed
      }
      this.service(qc);
      this.retire(qc);
    }
    // dgram sends go out a tick later (address lookup): let the CONNECTION_CLOSE packets leave first.
    await new Promise((r) => setImmediate(r));
    this.socketClosed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private report(err: unknown): void {
    if (this.opts.onError) this.opts.onError(err);
  }
}
