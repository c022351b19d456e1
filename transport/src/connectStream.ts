/**
 * The extended CONNECT stream of a WebTransport session (RFC 9220, draft-ietf-webtrans-http3): request
 * and response HEADERS, then capsules in DATA frames until either side closes the session.
 */
import { H3, H3Error, WebTransportError } from "./errors.ts";
import {
  CapsuleReader,
  CapsuleType,
  encodeCloseCapsule,
  encodeFrame,
  FrameReader,
  FrameType,
  parseCloseCapsule,
} from "./h3frames.ts";
import type { H3Connection } from "./h3Connection.ts";
import { decodeFieldSection, encodeFieldSection, type FieldLine } from "./qpack.ts";
import { QuicWebStream, recvChunk, shutdown } from "./streamIo.ts";
import { WtSession } from "./wtSession.ts";

export interface ConnectRequest {
  method: string;
  protocol: string | undefined;
  scheme: string | undefined;
  authority: string | undefined;
  path: string;
  /** Regular (non-pseudo) header fields; repeated names are joined with ", ". */
  headers: Record<string, string>;
}

const PSEUDO = new Set([":method", ":scheme", ":authority", ":path", ":protocol"]);
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

function malformed(message: string): never {
  throw new H3Error(H3.MESSAGE_ERROR, message, true);
}

/** Validates a request header section (RFC 9114 §4.3) and picks out what a CONNECT needs. */
export function parseRequest(fields: ReadonlyArray<FieldLine>): ConnectRequest {
  const pseudo = new Map<string, string>();
  const headers: Record<string, string> = {};
  let regularSeen = false;
  for (const [name, value] of fields) {
    if (name.length === 0 || /[A-Z]/.test(name)) malformed("bad field name");
    if (name.startsWith(":")) {
      if (regularSeen || !PSEUDO.has(name) || pseudo.has(name)) malformed(`bad pseudo-header ${name}`);
      pseudo.set(name, value);
      continue;
    }
    regularSeen = true;
    if (CONNECTION_SPECIFIC.has(name) || (name === "te" && value !== "trailers")) malformed(`field ${name}`);
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const method = pseudo.get(":method");
  if (method === undefined) malformed("missing :method");
  const path = pseudo.get(":path") ?? "";
  const req = {
    method,
    protocol: pseudo.get(":protocol"),
    scheme: pseudo.get(":scheme"),
    authority: pseudo.get(":authority"),
    path,
    headers,
  };
  if (req.protocol !== undefined && method !== "CONNECT") malformed(":protocol without CONNECT");
  if (req.protocol !== undefined && (!req.scheme || !req.authority || !path))
    malformed("incomplete extended CONNECT");
  return req;
}

export class ConnectStream {
  private readonly frames: FrameReader;
  private readonly capsules = new CapsuleReader(4 + 1024);
  private readonly writer: QuicWebStream;
  private gotHeaders = false;
  private peerDone = false;
  private closeSent = false;

  constructor(
    private readonly h3: H3Connection,
    readonly id: number,
    private session: WtSession | null,
  ) {
    this.frames = new FrameReader(h3.limits.maxHeaderBytes);
    this.writer = new QuicWebStream(h3, id, { read: false, write: true, hwm: h3.limits.streamHighWaterMark });
  }

  sendRequest(authority: string, path: string, origin?: string): void {
    const fields: FieldLine[] = [
      [":method", "CONNECT"],
      [":scheme", "https"],
      [":authority", authority],
      [":path", path],
      [":protocol", "webtransport"],
      // Lets a draft-02-only server accept us; later drafts ignore it.
      ["sec-webtransport-http3-draft02", "1"],
    ];
    if (origin) fields.push(["origin", origin]);
    this.writer.sendRaw(encodeFrame(FrameType.HEADERS, encodeFieldSection(fields)), false);
  }

  sendClose(code: number, reason: string): void {
    if (this.closeSent) return;
    this.closeSent = true;
    this.writer.sendRaw(encodeFrame(FrameType.DATA, encodeCloseCapsule(code, reason)), true);
    this.maybeDone();
  }

  onReadable(): void {
    for (let i = 0; i < 64 && !this.peerDone; i++) {
      const r = recvChunk(this.h3.conn, this.id, this.h3.scratch);
      if (r.kind === "none") return;
      if (r.kind === "gone" && this.h3.conn.streamFinished(this.id)) return this.onPeerGone(""); // collected FIN
      if (r.kind !== "data")
        return this.onPeerGone(r.kind === "reset" ? "CONNECT stream reset" : "CONNECT stream gone");
      this.onData(r.data, r.fin);
    }
  }

  onData(data: Uint8Array, fin: boolean): void {
    try {
      this.frames.push(data);
      this.drainFrames();
    } catch (err) {
      this.peerDone = true;
      this.session?._finish({ closeCode: 0, reason: "protocol error" }, H3.WT_SESSION_GONE);
      this.h3.streamFailed(this.id, err);
      return;
    }
    if (fin && !this.peerDone) this.onPeerGone("");
  }

  /** Every complete frame, in time linear in the bytes (see ControlReader.push). */
  private drainFrames(): void {
    for (;;) {
      const r = this.frames.next();
      if (!r) return;
      if (!r.ok) throw r.error;
      const { type, payload } = r.value;
      if (type === FrameType.HEADERS) {
        if (!this.gotHeaders) this.onHeaders(payload);
        continue; // later HEADERS are trailers: nothing in them matters to WebTransport
      }
      if (type === FrameType.DATA) {
        if (!this.gotHeaders) throw new H3Error(H3.FRAME_UNEXPECTED, "DATA before HEADERS");
        this.onCapsuleBytes(payload);
        continue;
      }
      throw new H3Error(H3.FRAME_UNEXPECTED, `frame ${type} on request stream`);
    }
  }

  private onHeaders(payload: Uint8Array): void {
    const fields = decodeFieldSection(payload, this.h3.limits.maxHeaderBytes);
    if (this.h3.opts.role === "client") return this.onResponse(fields);
    this.gotHeaders = true;
    const req = parseRequest(fields);
    let status = 200;
    if (req.method !== "CONNECT") status = 405;
    else if (req.protocol !== "webtransport") status = 501;
    else if (this.h3.sessions.size >= this.h3.limits.maxSessionsPerConnection) status = 429;
    if (status === 200) status = this.h3.opts.onRequest?.(req) ?? 200;
    const response: FieldLine[] = [[":status", String(status)]];
    // Chromium's draft-02 mode wants to see the version it asked for confirmed.
    if ("sec-webtransport-http3-draft02" in req.headers)
      response.push(["sec-webtransport-http3-draft", "draft02"]);
    const accepted = status >= 200 && status < 300;
    this.writer.sendRaw(encodeFrame(FrameType.HEADERS, encodeFieldSection(response)), !accepted);
    if (!accepted) {
      this.peerDone = true;
      shutdown(this.h3.conn, this.id, true, H3.NO_ERROR);
      this.maybeDone();
      return;
    }
    const session = new WtSession(this.h3, this.id, true);
    this.session = session;
    this.h3.registerSession(session);
    this.h3.sessionOpened(session);
    this.h3.opts.onSession?.(session, req);
  }

  private onResponse(fields: FieldLine[]): void {
    const status = Number(fields.find(([n]) => n === ":status")?.[1]);
    if (!Number.isInteger(status) || status < 100 || status > 599)
      throw new H3Error(H3.MESSAGE_ERROR, "bad :status", true);
    if (status < 200) return; // interim response; the final one follows
    this.gotHeaders = true;
    const session = this.session;
    if (!session) return;
    if (status >= 300) {
      session._fail(new WebTransportError(`server answered ${status}`, "session"));
      return;
    }
    session._established();
    this.h3.sessionOpened(session);
  }

  private onCapsuleBytes(bytes: Uint8Array): void {
    this.capsules.push(bytes);
    for (;;) {
      const r = this.capsules.next();
      if (!r) return;
      if (!r.ok) throw r.error;
      const { type, value } = r.value;
      if (type === CapsuleType.DRAIN_WEBTRANSPORT_SESSION) {
        this.session?._drain();
      } else if (type === CapsuleType.CLOSE_WEBTRANSPORT_SESSION) {
        const info = parseCloseCapsule(value);
        if (!info) throw new H3Error(H3.MESSAGE_ERROR, "bad close capsule", true);
        this.closeSent = true; // no capsule back: just our FIN
        this.writer.sendRaw(new Uint8Array(0), true);
        this.maybeDone();
        this.session?._finish({ closeCode: info.code, reason: info.reason }, H3.WT_SESSION_GONE);
      }
    }
  }

  /** The peer finished (FIN) or reset the CONNECT stream: the session is over if it was not already. */
  private onPeerGone(reason: string): void {
    this.peerDone = true;
    if (reason) this.writer.abort(H3.NO_ERROR, new WebTransportError(reason, "session"));
    else this.writer.sendRaw(new Uint8Array(0), true);
    const s = this.session;
    if (s?.state === "connecting") s._fail(new WebTransportError(reason || "no response", "session"));
    else s?._finish({ closeCode: 0, reason }, H3.WT_SESSION_GONE);
    this.maybeDone();
  }

  /** Once our FIN is out, quiche may collect the stream silently when the peer's FIN comes: watch it. */
  private maybeDone(): void {
    if (this.peerDone && !this.writer.writing) this.h3.forgetStream(this.id);
    else this.h3.watchFin(this, !this.peerDone && !this.writer.writing);
  }
}
