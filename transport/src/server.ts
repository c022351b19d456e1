/** WebTransport server: a QUIC endpoint whose connections speak HTTP/3 and accept extended CONNECT. */
import type { CloseInfo, WebTransportLike } from "@qpq/shared/transport";
import type { Config } from "@matrixai/quic/native/types.js";
import { buildQuicheConfig, resolveLimits, type TransportLimits } from "./config.ts";
import { H3Connection } from "./h3Connection.ts";
import type { AdmissionStats } from "./admission.ts";
import { QuicEndpoint } from "./quicEndpoint.ts";
import type { DatagramDuplex } from "./wtSession.ts";

export interface WebTransportServerSession extends WebTransportLike {
  /** Peer IP (IPv4-mapped IPv6 addresses are given as plain IPv4). */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The request's :path, query included. */
  readonly path: string;
  /** Regular request header fields, e.g. `origin`. */
  readonly headers: Readonly<Record<string, string>>;
  readonly datagrams: DatagramDuplex;
  readonly draining: Promise<void>;
}

export interface WebTransportServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  certPem: string;
  keyPem: string;
  /** Only CONNECTs to this path (query ignored) are accepted; others get 404. */
  path: string;
  /** A returned promise's rejection goes to onError instead of becoming an unhandled rejection. */
  onSession: (session: WebTransportServerSession) => void | Promise<void>;
  limits?: Partial<TransportLimits>;
  /** Protocol errors of peers and internal faults; never thrown. Defaults to silence. */
  onError?: (err: unknown) => void;
  /** Rare operational events worth a log line (a flood of Initials starting and ending). */
  onNotice?: (msg: string, fields: Record<string, unknown>) => void;
}

export interface WebTransportServer {
  readonly port: number;
  /** QUIC connections not yet closed or draining. */
  readonly connectionCount: number;
  /** Admission counts: connections by state, Initials dropped by each cap, Retries sent. */
  readonly stats: AdmissionStats;
  /** Sends close-session capsules, waits briefly for peers to acknowledge, then closes everything. */
  close(info?: Partial<CloseInfo>): Promise<void>;
  /** New connections use the new certificate; established ones keep theirs. */
  setCertificate(certPem: string, keyPem: string): void;
}

function plainAddress(host: string): string {
  return host.startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host;
}

export async function startWebTransportServer(opts: WebTransportServerOptions): Promise<WebTransportServer> {
  const limits = resolveLimits(opts.limits);
  let config: Config = buildQuicheConfig({ certPem: opts.certPem, keyPem: opts.keyPem }, limits);
  const onError = opts.onError ?? (() => {});
  const connections = new Set<H3Connection>();

  const endpoint = await QuicEndpoint.bind({
    host: opts.host,
    port: opts.port,
    maxUdpPayload: limits.maxUdpPayload,
    onError,
    onNotice: opts.onNotice,
    admission: limits,
    accept: (ep, dcid, remote, odcid) => {
      const qc = ep.acceptConnection(config, dcid, remote, odcid);
      const h3: H3Connection = new H3Connection(qc, {
        role: "server",
        limits,
        onError,
        onRequest: (req) => (req.path.split("?")[0] === opts.path ? 200 : 404),
        onSession: (session, req) => {
          session.remoteAddress = plainAddress(remote.host);
          session.remotePort = remote.port;
          session.path = req.path;
          session.headers = req.headers;
          try {
            const result = opts.onSession(session);
            if (result instanceof Promise) result.catch(onError);
          } catch (err) {
            onError(err);
          }
        },
        onGone: () => connections.delete(h3),
      });
      qc.handler = h3;
      connections.add(h3);
      return qc;
    },
  });

  const gate = endpoint.gate;
  if (!gate) throw new Error("a server endpoint has an admission gate");
  let closing: Promise<void> | null = null;
  return {
    get port() {
      return endpoint.port;
    },
    get connectionCount() {
      return connections.size;
    },
    get stats() {
      return gate.stats();
    },
    setCertificate(certPem: string, keyPem: string) {
      config = buildQuicheConfig({ certPem, keyPem }, limits);
    },
    close(info?: Partial<CloseInfo>) {
      closing ??= (async () => {
        endpoint.stopAccepting();
        const closeInfo = { closeCode: info?.closeCode ?? 0, reason: info?.reason ?? "server shutting down" };
        for (const h3 of connections) for (const s of [...h3.sessions.values()]) s.close(closeInfo);
        // Give peers a moment to see the capsules (they answer with FIN) before CONNECTION_CLOSE, so
        // pages get their close code instead of "connection lost".
        for (let i = 0; i < 60 && [...connections].some((h3) => h3.hasOpenConnectStreams); i++) {
          await new Promise((r) => setTimeout(r, 5));
        }
        await endpoint.close();
      })();
      return closing;
    },
  };
}
