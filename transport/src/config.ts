/** Limits and the quiche configuration shared by server and client. */
import { quiche } from "@matrixai/quic/native/index.js";
import type { Config } from "@matrixai/quic/native/types.js";
import type { AdmissionLimits } from "./admission.ts";

/** Admission (see admission.ts): `maxConnections` is the whole table, further Initials are dropped. */
export interface TransportLimits extends AdmissionLimits {
  /**
   * A connection whose handshake has not completed by then is dropped without a word: half-open
   * connections otherwise live until the idle timeout, and a real client is done in a few round trips.
   */
  handshakeTimeoutMs: number;
  /** WebTransport sessions per QUIC connection (advertised in SETTINGS, enforced with 429). */
  maxSessionsPerConnection: number;
  /** Decoded header section size (SETTINGS_MAX_FIELD_SECTION_SIZE) and HEADERS frame payload bound. */
  maxHeaderBytes: number;
  /**
   * Bytes buffered in JS per stream direction on top of quiche's own buffers (the Web Streams
   * high-water mark). Worst case per connection: this times maxStreamsPerConnection.
   */
  streamHighWaterMark: number;
  /** Initial QUIC flow-control windows; quiche grows them (up to 4x) for streams read quickly. */
  streamWindow: number;
  connectionWindow: number;
  /** Concurrent streams the peer may open, per direction (QUIC MAX_STREAMS). */
  maxStreamsPerConnection: number;
  /** WebTransport streams that may wait for their session's CONNECT to be processed. */
  maxPendingStreams: number;
  /** QUIC idle timeout. */
  idleTimeoutMs: number;
  /** UDP payload we send and accept; 1350 is safe on real paths, loopback could go higher. */
  maxUdpPayload: number;
  /** Close a server connection this long after its last session ended (Chromium keeps it open). */
  lingerMs: number;
}

export const DEFAULT_LIMITS: TransportLimits = {
  maxConnections: 10_000,
  // A NAT of many users (the table is 10,000): what one address can hold of it.
  maxConnectionsPerAddress: 64,
  maxUnvalidated: 1000,
  maxUnvalidatedPerAddress: 16,
  retry: "auto",
  retryThreshold: 500,
  handshakeTimeoutMs: 10_000,
  maxSessionsPerConnection: 16,
  maxHeaderBytes: 16 * 1024,
  streamHighWaterMark: 64 * 1024,
  streamWindow: 1024 * 1024,
  connectionWindow: 8 * 1024 * 1024,
  maxStreamsPerConnection: 128,
  maxPendingStreams: 32,
  idleTimeoutMs: 30_000,
  maxUdpPayload: 1350,
  lingerMs: 200,
};

export function resolveLimits(partial?: Partial<TransportLimits>): TransportLimits {
  const limits = { ...DEFAULT_LIMITS, ...partial };
  // Half the cap unless set: in "auto" mode Retry starts well before the cap would drop anyone.
  const threshold = partial?.retryThreshold ?? Math.ceil(limits.maxUnvalidated / 2);
  limits.retryThreshold = Math.min(threshold, limits.maxUnvalidated);
  return limits;
}

const encoder = new TextEncoder();

export interface TlsOptions {
  certPem?: string;
  keyPem?: string;
  /** Verify the peer against these PEM roots; null = no verification by quiche (hash pinning). */
  caPem?: string | null;
}

export function buildQuicheConfig(tls: TlsOptions, limits: TransportLimits): Config {
  const verify = tls.caPem != null;
  const config = quiche.Config.withBoringSslCtx(
    verify,
    false,
    verify ? encoder.encode(tls.caPem ?? "") : null,
    tls.keyPem ? [encoder.encode(tls.keyPem)] : null,
    tls.certPem ? [encoder.encode(tls.certPem)] : null,
    null,
  );
  config.setApplicationProtos(["h3"]);
  config.setMaxIdleTimeout(limits.idleTimeoutMs);
  config.setMaxRecvUdpPayloadSize(Math.max(limits.maxUdpPayload, 1500));
  config.setMaxSendUdpPayloadSize(limits.maxUdpPayload);
  config.setInitialMaxData(limits.connectionWindow);
  config.setInitialMaxStreamDataBidiLocal(limits.streamWindow);
  config.setInitialMaxStreamDataBidiRemote(limits.streamWindow);
  config.setInitialMaxStreamDataUni(limits.streamWindow);
  config.setMaxConnectionWindow(4 * limits.connectionWindow);
  config.setMaxStreamWindow(4 * limits.streamWindow);
  // +3 uni: the peer's HTTP/3 control and QPACK streams come out of the same budget.
  config.setInitialMaxStreamsBidi(limits.maxStreamsPerConnection);
  config.setInitialMaxStreamsUni(limits.maxStreamsPerConnection + 3);
  config.setDisableActiveMigration(true);
  config.enableDgram(true, 1024, 1024);
  return config;
}
