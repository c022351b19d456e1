/**
 * The gateway inside the test process: the real services (createServices) and the real per-session
 * handler (ClientConnection) on in-memory WebTransport pairs, over a MemoryStore unless given another
 * Store. No UDP, no TLS, no child process, so a test of client or gateway logic takes milliseconds.
 * What only the real process shows (HTTP/3 and QUIC, a process crash, SQLite durability) stays in
 * the process-based tests under gateway/test.
 */
import { randomBytes } from "node:crypto";
import { createMemoryTransportPair, type MemoryTransport } from "@qpq/shared/rpc/testing";
import type { CertificateHash, WebTransportLike } from "@qpq/shared/transport";
import { defaultLimits, loadConfig, type GatewayConfig, type Limits } from "../config.ts";
import { discoveryDocument } from "../http/discovery.ts";
import { ClientConnection } from "../rpc/connection.ts";
import { hashToken } from "../services/auth.ts";
import { createServices, type Clock } from "../services/createServices.ts";
import type { Services } from "../services/index.ts";
import { MemoryStore } from "../store/memoryStore.ts";
import type { Store } from "../store/types.ts";

export interface InProcessOptions {
  /** Limits to change from the defaults (rate limits stay on unless turned off here). */
  limits?: Partial<Limits>;
  channels?: Partial<GatewayConfig["channels"]>;
  /** Time for sessions, logins, throttles and queues; the system clock by default. */
  clock?: Clock;
  /** Any Store; a fresh MemoryStore by default. It outlives crash() and is closed by close(). */
  store?: Store;
}

export interface ConnectOptions {
  /** The address the gateway sees (rate limits are per address); 127.0.0.1 by default. */
  remoteAddress?: string;
  /** Cut every chunk into pieces of at most this many bytes, to exercise reassembly. */
  maxChunkBytes?: number;
}

/** The base URL ConnectionManager is given; discovery through `fetch` answers for it. */
export const IN_PROCESS_BASE_URL = "https://gateway.memory";

export interface InProcessGateway {
  /** The current services (replaced by crash()). */
  readonly services: Services;
  readonly store: Store;
  readonly config: GatewayConfig;
  /** Sessions currently served. */
  readonly connectionCount: number;
  /** A new client session, served at once; throws while the gateway is unreachable. */
  connect(options?: ConnectOptions): MemoryTransport;
  /** ConnectionManager's openTransport. */
  openTransport(url: string, certificateHashes: CertificateHash[]): WebTransportLike;
  /** ConnectionManager's fetchImpl: answers discovery for IN_PROCESS_BASE_URL. */
  fetch: typeof fetch;
  /**
   * Drops served sessions as a lost network path would (all, or those the filter picks); the
   * gateway's state stays. Returns how many were dropped.
   */
  disconnect(filter?: (session: MemoryTransport) => boolean): number;
  /** While false, connect() throws as an unreachable gateway would. */
  setReachable(reachable: boolean): void;
  /**
   * A process crash and restart: every session dropped, everything held in memory (pending logins,
   * subscriptions, throttles, queue depths) lost, the store kept, fresh services built on it.
   */
  crash(): Promise<void>;
  /**
   * An account and a session written straight into the store, skipping OPAQUE (whose argon2id costs
   * a tenth of a second per run): for tests about everything after login. Returns the session token
   * for resumeSession; the account has no usable password.
   */
  seedAccount(username: string, identityKey: Uint8Array, sessionTtlMs?: number): Promise<Uint8Array>;
  /** Resolves once every envelope accepted so far is in the store. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** A config for in-process tests: the defaults of loadConfig with an empty environment. */
export function testConfig(options: Pick<InProcessOptions, "limits" | "channels"> = {}): GatewayConfig {
  const base = loadConfig({ QPQ_STORE: "memory" }, "/nonexistent");
  return {
    ...base,
    limits: { ...defaultLimits, ...options.limits },
    channels: { ...base.channels, ...options.channels },
  };
}

export async function inProcessGateway(options: InProcessOptions = {}): Promise<InProcessGateway> {
  const config = testConfig(options);
  const store = options.store ?? new MemoryStore();
  const clock = options.clock;
  let services = await createServices(config, store, clock);
  const served = new Map<MemoryTransport, ClientConnection>();
  let reachable = true;
  let restarting = false;
  let closed = false;

  const dropAll = (code: number, reason: string): number => {
    const sessions = [...served.keys()];
    for (const session of sessions) drop(session, code, reason);
    return sessions.length;
  };
  const drop = (session: MemoryTransport, code: number, reason: string): void => {
    served.get(session)?.close();
    served.delete(session);
    session.close({ closeCode: code, reason });
  };

  const connect = (connectOptions: ConnectOptions = {}): MemoryTransport => {
    if (closed || restarting || !reachable) throw new Error("gateway unreachable");
    const { client, server } = createMemoryTransportPair(connectOptions);
    const connection = new ClientConnection(server, services);
    served.set(server, connection);
    void connection.serve().finally(() => served.delete(server));
    return client;
  };

  const discovery = discoveryDocument(new URL(IN_PROCESS_BASE_URL).hostname, 443, config.wtPath, []);

  return {
    get services() {
      return services;
    },
    store,
    config,
    get connectionCount() {
      return served.size;
    },
    connect,
    openTransport: () => connect(),
    fetch: (async () => {
      if (closed || restarting || !reachable) throw new TypeError("fetch failed");
      return new Response(JSON.stringify(discovery), { headers: { "content-type": "application/json" } });
    }) as typeof fetch,
    disconnect(filter) {
      const picked = [...served.keys()].filter((session) => filter?.(session) ?? true);
      for (const session of picked) drop(session, 0, "connection lost");
      return picked.length;
    },
    setReachable(value) {
      reachable = value;
    },
    async crash() {
      // Down until the new services exist: a session accepted meanwhile would be served by the old
      // ones, whose subscriptions no later enqueue ever reaches.
      restarting = true;
      try {
        dropAll(0, "gateway crashed");
        // Accepted writes are durable before their response; the committer only holds unanswered ones.
        await services.delivery.drain();
        services = await createServices(config, store, clock);
      } finally {
        restarting = false;
      }
    },
    async seedAccount(username, identityKey, sessionTtlMs = config.limits.sessionTtlMs) {
      const now = services.now();
      const created = await store.createUser({ username, identityKey, opaqueRecord: "", createdAtMs: now });
      if (!created) throw new Error(`username or identity taken: ${username}`);
      const token = new Uint8Array(randomBytes(32));
      await store.createSession({
        tokenHash: hashToken(token),
        username,
        identityKey,
        deviceKey: new Uint8Array(0),
        createdAtMs: now,
        expiresAtMs: now + sessionTtlMs,
      });
      return token;
    },
    drain: () => services.delivery.drain(),
    async close() {
      if (closed) return;
      closed = true;
      dropAll(0, "gateway stopped");
      await services.delivery.drain();
      await store.close();
    },
  };
}
