/**
 * Keeps a logged-in messenger connected: discovers the gateway, opens WebTransport, and when the
 * connection drops, reconnects with exponential backoff (with jitter, so a restarted gateway is not
 * hit by every client at once), resumes the session with its token and re-attaches the messenger,
 * which then fetches everything after its last processed envelope and resends its outbox. A
 * heartbeat (heartbeat.ts) notices a gateway that died without closing the connection. UI-free: the
 * web app and the CLI pass their own WebTransport factory.
 */
import { ErrorCode, QpqError } from "../protocol/index.ts";
import type { CertificateHash, WebTransportLike } from "../transport/webtransport.ts";
import { discoverGateway } from "./discovery.ts";
import { GatewayClient } from "./gatewayClient.ts";
import { DEFAULT_HEARTBEAT, startHeartbeat, type HeartbeatOptions } from "./heartbeat.ts";
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
   * Health calls on a kept connection (defaults: DEFAULT_HEARTBEAT). They also keep an idle
   * connection from hitting the QUIC idle timeout, since browsers cannot send QUIC PINGs from script.
   */
  heartbeat?: Partial<HeartbeatOptions>;
  /**
   * How long one reconnection attempt (discovery, handshake, hello) may take before it is abandoned
   * and retried: a half-dead gateway must not hold the attempt, and the outbox, forever.
   */
  connectTimeoutMs?: number;
  fetchImpl?: typeof fetch;
  random?: () => number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export class ConnectionManager {
  private statusValue: ConnectionStatus = "offline";
  private readonly listeners = new Set<(status: ConnectionStatus, detail?: string) => void>();
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private kept: { messenger: Messenger; token: Uint8Array } | undefined;
  /** The connection being watched; a loss reported for any other one is stale and ignored. */
  private current: GatewayClient | undefined;
  private stopHeartbeat: (() => void) | undefined;
  private readonly heartbeat: HeartbeatOptions;

  constructor(private readonly opts: ConnectionOptions) {
    this.heartbeat = { ...DEFAULT_HEARTBEAT, ...opts.heartbeat };
  }

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
      const gw = await this.open();
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
    this.attempt = 0;
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
    this.unwatch();
    this.kept = undefined;
    this.setStatus("stopped");
  }

  private watch(gw: GatewayClient): void {
    this.unwatch();
    this.current = gw;
    this.stopHeartbeat = startHeartbeat(
      (timeoutMs) => gw.health(timeoutMs),
      this.heartbeat,
      (detail) => this.lost(gw, detail),
    );
    void gw.ended.then(() => this.lost(gw, "connection lost"));
  }

  private unwatch(): void {
    this.stopHeartbeat?.();
    this.stopHeartbeat = undefined;
    this.current = undefined;
  }

  /**
   * The watched connection is gone (closed, or silent past the heartbeat's deadlines). Closed here
   * too: a connection the heartbeat gave up on may still look open to the transport, and calls
   * waiting on it must fail now so their messages go back to the outbox.
   */
  private lost(gw: GatewayClient, detail: string): void {
    if (gw !== this.current) return;
    this.unwatch();
    gw.close();
    if (this.stopped || !this.kept) return;
    this.kept.messenger.detach();
    this.setStatus("offline", detail);
    this.schedule();
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
      // Attempts stay "offline" (the detail says why): flipping to "connecting" for every one of
      // them would make the badge flicker for as long as the gateway is down.
      gw = await this.open();
    } catch (error) {
      if (this.stopped || this.kept !== kept) return;
      this.setStatus("offline", describe(error));
      this.schedule();
      return;
    }
    if (this.stopped || this.kept !== kept) {
      gw.close();
      return;
    }
    // Watched before resuming, so a connection that dies while the messenger re-attaches is noticed
    // like any other and retried.
    this.watch(gw);
    try {
      await gw.resumeSession(kept.token);
      await kept.messenger.attach(gw);
      if (this.current !== gw) return;
      this.attempt = 0;
      this.setStatus("online");
    } catch (error) {
      if (error instanceof QpqError && error.code === ErrorCode.SessionInvalid) {
        this.unwatch();
        gw.close();
        this.kept = undefined;
        this.setStatus("expired", "your session ended; log in again");
        return;
      }
      this.lost(gw, describe(error));
    }
  }

  /** Discovery, WebTransport and hello, abandoned after the connect deadline. */
  private async open(): Promise<GatewayClient> {
    const location = await discoverGateway(this.opts.baseUrl, this.opts.fetchImpl);
    const wt = this.opts.openTransport(location.webtransportUrl, location.certificateHashes);
    const connecting = GatewayClient.connect(wt, this.opts.clientName);
    const ms = this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // A connection that completes after all is not wanted any more.
        connecting.then((late) => late.close()).catch(() => undefined);
        wt.close();
        reject(new QpqError(ErrorCode.Unavailable, `no connection within ${ms} ms`));
      }, ms);
    });
    try {
      return await Promise.race([connecting, deadline]);
    } finally {
      clearTimeout(timer);
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
