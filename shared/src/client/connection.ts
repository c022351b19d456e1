/**
 * Keeps a logged-in messenger connected: discovers the gateway, opens WebTransport, and when the
 * connection drops, reconnects with exponential backoff (with jitter, so a restarted gateway is not
 * hit by every client at once), resumes the session with its token and re-attaches the messenger,
 * which then fetches everything after its last processed envelope. UI-free: the web app and the CLI
 * pass their own WebTransport factory.
 */
import { ErrorCode, QpqError } from "../protocol/index.ts";
import type { CertificateHash, WebTransportLike } from "../transport/webtransport.ts";
import { discoverGateway } from "./discovery.ts";
import { GatewayClient } from "./gatewayClient.ts";
import type { Messenger } from "./messenger.ts";

export type ConnectionStatus = "connecting" | "online" | "offline" | "expired" | "stopped";

export interface ConnectionOptions {
  /** The gateway's web address (where /.well-known/qpq.json is served). */
  baseUrl: string;
  openTransport: (url: string, certificateHashes: CertificateHash[]) => WebTransportLike;
  clientName?: string;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * A health call this often keeps an idle connection from hitting the QUIC idle timeout (browsers
   * cannot send QUIC PINGs from script) and notices a dead path sooner than the transport would.
   */
  heartbeatMs?: number;
  fetchImpl?: typeof fetch;
  random?: () => number;
}

export class ConnectionManager {
  private statusValue: ConnectionStatus = "offline";
  private readonly listeners = new Set<(status: ConnectionStatus, detail?: string) => void>();
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private kept: { messenger: Messenger; token: Uint8Array } | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly opts: ConnectionOptions) {}

  get status(): ConnectionStatus {
    return this.statusValue;
  }

  onStatus(listener: (status: ConnectionStatus, detail?: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One connection attempt: discovery, WebTransport, hello. */
  async connect(): Promise<GatewayClient> {
    this.setStatus("connecting");
    try {
      const location = await discoverGateway(this.opts.baseUrl, this.opts.fetchImpl);
      const wt = this.opts.openTransport(location.webtransportUrl, location.certificateHashes);
      const gw = await GatewayClient.connect(wt, this.opts.clientName);
      this.setStatus("online");
      return gw;
    } catch (error) {
      this.setStatus("offline", describe(error));
      throw unreachable(error);
    }
  }

  /**
   * Watches the messenger's connection from now on: on loss, reconnects, resumes the session and
   * re-attaches. Resolves immediately; status changes report progress.
   */
  keep(messenger: Messenger, gw: GatewayClient, sessionToken: Uint8Array): void {
    this.kept = { messenger, token: sessionToken };
    this.stopped = false;
    this.watch(gw);
  }

  /** Skips the remaining backoff (for example when the browser reports it is online again). */
  retryNow(): void {
    if (this.kept && this.timer !== undefined && !this.stopped) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.reconnect();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.stopHeartbeat();
    this.kept = undefined;
    this.setStatus("stopped");
  }

  private watch(gw: GatewayClient): void {
    this.attempt = 0;
    this.stopHeartbeat();
    const every = this.opts.heartbeatMs ?? 15_000;
    this.heartbeat = setInterval(() => {
      // No answer within the interval: treat the connection as dead and let the close path reconnect.
      gw.health(every).catch(() => gw.close());
    }, every);
    void gw.closed.then(() => {
      this.stopHeartbeat();
      if (this.stopped || !this.kept) return;
      this.kept.messenger.detach();
      this.setStatus("offline", "connection lost");
      this.schedule();
    });
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private schedule(): void {
    const initial = this.opts.initialBackoffMs ?? 500;
    const max = this.opts.maxBackoffMs ?? 30_000;
    const base = Math.min(max, initial * 2 ** this.attempt++);
    const delay = base / 2 + (this.opts.random ?? Math.random)() * (base / 2);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reconnect();
    }, delay);
  }

  private async reconnect(): Promise<void> {
    const kept = this.kept;
    if (!kept || this.stopped) return;
    let gw: GatewayClient;
    try {
      gw = await this.connect();
    } catch {
      this.schedule();
      return;
    }
    try {
      await gw.resumeSession(kept.token);
      await kept.messenger.attach(gw);
      this.watch(gw);
    } catch (error) {
      gw.close();
      if (error instanceof QpqError && error.code === ErrorCode.SessionInvalid) {
        this.kept = undefined;
        this.setStatus("expired", "your session ended; log in again");
        return;
      }
      this.setStatus("offline", describe(error));
      this.schedule();
    }
  }

  private setStatus(status: ConnectionStatus, detail?: string): void {
    if (this.statusValue === status && detail === undefined) return;
    this.statusValue = status;
    for (const listener of this.listeners) listener(status, detail);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Network-level failures become E019 so the UI can say "gateway unreachable" in one place. */
function unreachable(error: unknown): QpqError {
  if (error instanceof QpqError) return error;
  return new QpqError(ErrorCode.Unavailable, `gateway unreachable: ${describe(error)}`);
}
