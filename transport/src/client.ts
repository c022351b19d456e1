/**
 * Node WebTransport client, the counterpart of `new WebTransport(url, options)`: one QUIC connection
 * with its own UDP socket per session, as browsers do without pooling.
 */
import { createHash, X509Certificate } from "node:crypto";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { rootCertificates } from "node:tls";
import type { Connection } from "@matrixai/quic/native/types.js";
import type { CertificateHash, WebTransportLike } from "@qpq/shared/transport";
import { buildQuicheConfig, resolveLimits, type TransportLimits } from "./config.ts";
import { WebTransportError } from "./errors.ts";
import { H3Connection } from "./h3Connection.ts";
import { QuicEndpoint } from "./quicEndpoint.ts";
import { WtSession, type DatagramDuplex } from "./wtSession.ts";

export interface ConnectOptions {
  /** Accept the server iff SHA-256 of its leaf certificate (DER) equals one of these. */
  serverCertificateHashes?: CertificateHash[];
  /** PEM roots to verify the server with; defaults to Node's bundled roots. Ignored with hashes. */
  ca?: Uint8Array | string;
  /** Sent as the `origin` header (browsers always send one; servers may check it). */
  origin?: string;
  limits?: Partial<TransportLimits>;
}

export interface WebTransportClientSession extends WebTransportLike {
  readonly datagrams: DatagramDuplex;
  readonly draining: Promise<void>;
}

function checkPins(pins: CertificateHash[]): (conn: Connection) => Error | null {
  return (conn) => {
    const leaf = conn.peerCertChain()?.[0];
    if (!leaf) return new WebTransportError("server sent no certificate", "session");
    const digest = createHash("sha256").update(leaf).digest();
    const ok = pins.some((p) => p.algorithm === "sha-256" && digest.equals(Buffer.from(p.value)));
    return ok ? null : new WebTransportError("server certificate hash does not match", "session");
  };
}

/** quiche verified the chain; this adds the name check against what the URL asked for. */
function checkName(hostname: string): (conn: Connection) => Error | null {
  return (conn) => {
    const leaf = conn.peerCertChain()?.[0];
    if (!leaf) return new WebTransportError("server sent no certificate", "session");
    const cert = new X509Certificate(leaf);
    const ok = isIP(hostname) ? cert.checkIP(hostname) : cert.checkHost(hostname);
    return ok ? null : new WebTransportError(`certificate is not valid for ${hostname}`, "session");
  };
}

export function connectWebTransport(url: string, opts: ConnectOptions = {}): WebTransportClientSession {
  const session = new WtSession(null, 0, false);
  open(session, url, opts).catch((err: unknown) => session._fail(err));
  return session;
}

async function open(session: WtSession, url: string, opts: ConnectOptions): Promise<void> {
  const u = new URL(url);
  if (u.protocol !== "https:") throw new WebTransportError("WebTransport URLs must be https:", "session");
  const hostname = u.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(u.port || 443);
  const address = isIP(hostname) ? hostname : (await lookup(hostname)).address;
  const limits = resolveLimits(opts.limits);
  const pins = opts.serverCertificateHashes?.length ? opts.serverCertificateHashes : null;
  const caPem = pins ? null : opts.ca ? Buffer.from(opts.ca).toString() : rootCertificates.join("\n");
  const config = buildQuicheConfig({ caPem }, limits);
  const endpoint = await QuicEndpoint.bind({
    host: isIP(address) === 6 ? "::" : "0.0.0.0",
    port: 0,
    maxUdpPayload: limits.maxUdpPayload,
  });
  if (session.state === "closed") return void (await endpoint.close());
  const qc = endpoint.connect(config, isIP(hostname) ? null : hostname, { host: address, port });
  const h3 = new H3Connection(qc, {
    role: "client",
    limits,
    request: { authority: u.host, path: u.pathname + u.search, origin: opts.origin },
    clientSession: session,
    verifyPeer: pins ? checkPins(pins) : checkName(hostname),
    // Leave the current pass (which still flushes the CONNECTION_CLOSE) before closing the socket.
    onGone: () => setImmediate(() => void endpoint.close()),
  });
  qc.handler = h3;
  qc.markDirty();
}
