/**
 * Gateway configuration, read from the environment once at start. Every variable is documented in
 * README.md; limits have safe defaults so an unconfigured gateway is still hard to abuse.
 */
import { resolve } from "node:path";
import { DEFAULT_LIMITS, type RetryMode, type TransportLimits } from "@qpq/transport";
import type { BucketRule } from "./services/throttle.ts";
import { maxDeliverablePayload } from "./delivery/frameBudget.ts";

export interface Limits {
  maxFrameBytes: number;
  maxSegments: number;
  maxPayloadBytes: number;
  /** Envelopes a recipient may have waiting before enqueues to them are refused. */
  maxQueuedPerRecipient: number;
  /** KeyPackages accepted in one publish call, and stored per identity. */
  maxKeyPackagesPerPublish: number;
  maxKeyPackagesStored: number;
  maxFetchPage: number;
  maxInFlightPerConnection: number;
  /**
   * Bytes one connection may make the gateway hold for it (responses and pushes it has not read,
   * room reserved for responses being computed); beyond it the connection is not served until it reads.
   */
  connBufferBytes: number;
  /** The same, summed over all connections: what non-reading peers together can cost the process. */
  totalBufferBytes: number;
  /** How long a frame may stay incomplete while the gateway waits for its bytes (slow-sender cutoff). */
  frameDeadlineMs: number;
  /** How long a new connection may take to complete hello. */
  helloDeadlineMs: number;
  /** OPAQUE logins started but not finished, kept in memory; beyond it new ones are refused. */
  maxPendingLogins: number;
  /** Of those, from one source address (an IPv6 /64), so one source cannot take them all. */
  maxPendingLoginsPerAddress: number;
  loginTimeoutMs: number;
  sessionTtlMs: number;
  /** Members of one group channel (each commit's fan-out writes one row per member). */
  maxGroupMembers: number;
  /** Throttling (token buckets); off only for benchmarks and closed test setups. */
  rateLimits: boolean;
  loginPerUser: BucketRule;
  authPerAddress: BucketRule;
  registerPerAddress: BucketRule;
  /** Open sessions per account; a login beyond it ends the oldest. */
  maxSessionsPerUser: number;
  /** Directory lookups (resolveUser), per session and per source address. */
  resolvePerSession: BucketRule;
  resolvePerAddress: BucketRule;
  /** KeyPackage claims (fetchKeyPackage): each one uses up another user's stock. */
  keyPackageFetchPerSession: BucketRule;
  keyPackageFetchPerAddress: BucketRule;
  /** publishKeyPackages calls per session (each checks up to maxKeyPackagesPerPublish packages). */
  keyPackagePublishPerSession: BucketRule;
  /** createChannel calls per session (channels are never deleted). */
  channelCreatePerSession: BucketRule;
  /** sealedEnqueue calls per source address: it needs no account, so no per-session limit applies. */
  sealedPerAddress: BucketRule;
  /** Unrevoked devices per account (docs/cryptography/devices.md). */
  maxDevicesPerAccount: number;
  /** Bytes of history backup kept per account (entry keys and ciphertexts). */
  backupBytesPerAccount: number;
  /** putBackup calls per session. */
  backupPutPerSession: BucketRule;
}

export interface AcmeConfig {
  domain: string;
  email: string | undefined;
  directoryUrl: string;
  /** PEM file of the roots to trust for the ACME server's HTTPS (a private CA, Pebble in tests). */
  directoryCaFile: string | undefined;
  /** Fraction of the certificate's lifetime left when it is renewed. */
  renewWhenLeft: number;
  checkEveryMs: number;
  retryMinMs: number;
  retryMaxMs: number;
}

export const LETS_ENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory";

export interface GatewayConfig {
  host: string;
  httpPort: number;
  wtPort: number;
  /** Path of the WebTransport endpoint (extended CONNECT :path). */
  wtPath: string;
  dataDir: string;
  store: "sqlite" | "memory";
  sqliteSynchronous: "full" | "normal";
  tlsCertPath: string | undefined;
  tlsKeyPath: string | undefined;
  /** How often the CA certificate files are checked for a renewal. */
  tlsPollMs: number;
  /** Automatic certificates over ACME; undefined unless QPQ_ACME_DOMAIN is set. */
  acme: AcmeConfig | undefined;
  /** Public host name put in the discovery document and the self-signed certificate. */
  publicHost: string;
  webRoot: string;
  limits: Limits;
  /** Which QUIC connections the WebTransport endpoint takes on (transport/src/admission.ts). */
  quic: QuicAdmission;
  channels: ChannelPolicy;
  /**
   * Whether /healthz also reports connection, subscriber and QUIC admission counts. Off by default:
   * the probe is public, and the counts tell anyone how busy the gateway is and when its users are
   * online (or that a flood is working).
   */
  healthDetails: boolean;
}

export type QuicAdmission = Pick<
  TransportLimits,
  | "maxConnections"
  | "maxConnectionsPerAddress"
  | "maxUnvalidated"
  | "maxUnvalidatedPerAddress"
  | "retry"
  | "retryThreshold"
  | "handshakeTimeoutMs"
>;

/** How the gateway treats payloads of a channel's MLS group. */
export interface ChannelPolicy {
  /**
   * Application messages of a group channel may be this many epochs behind the channel's epoch
   * (messages sent just before a commit is accepted); older ones are refused with StaleEpoch.
   */
  epochWindow: number;
}

export const defaultLimits: Limits = {
  maxFrameBytes: 1024 * 1024 + 64 * 1024,
  maxSegments: 64,
  maxPayloadBytes: 1024 * 1024,
  maxQueuedPerRecipient: 10_000,
  maxKeyPackagesPerPublish: 100,
  maxKeyPackagesStored: 200,
  maxFetchPage: 500,
  maxInFlightPerConnection: 256,
  connBufferBytes: 8 * 1024 * 1024,
  totalBufferBytes: 512 * 1024 * 1024,
  frameDeadlineMs: 30_000,
  helloDeadlineMs: 10_000,
  maxPendingLogins: 10_000,
  // A NAT of many people logging in at once, not a flood: loginStart is also throttled per address.
  maxPendingLoginsPerAddress: 64,
  loginTimeoutMs: 60_000,
  sessionTtlMs: 30 * 24 * 3600 * 1000,
  maxGroupMembers: 1000,
  rateLimits: true,
  // Ten guesses at once, then one every 6 s: a person who mistypes never notices, a guesser gets
  // 14,400 tries a day instead of millions.
  loginPerUser: { burst: 10, perMinute: 10 },
  authPerAddress: { burst: 60, perMinute: 60 },
  registerPerAddress: { burst: 20, perMinute: 6 },
  maxSessionsPerUser: 20,
  // Enough to start a 100-member group at once; a crawler of the directory gets one name a second.
  resolvePerSession: { burst: 100, perMinute: 60 },
  resolvePerAddress: { burst: 300, perMinute: 180 },
  // Draining someone's KeyPackages pushes them onto their last-resort package: kept slower.
  keyPackageFetchPerSession: { burst: 100, perMinute: 30 },
  keyPackageFetchPerAddress: { burst: 300, perMinute: 90 },
  // A top-up is one or two calls (an empty one reads the stock); reconnects and group joins trigger it.
  keyPackagePublishPerSession: { burst: 20, perMinute: 10 },
  // One call per new conversation: far above what a person starts.
  channelCreatePerSession: { burst: 50, perMinute: 20 },
  // Two messages a second sustained from one address (a NAT included), bursts of 300.
  sealedPerAddress: { burst: 300, perMinute: 120 },
  maxDevicesPerAccount: 10,
  // About 60,000 messages of a few hundred bytes each once padded and sealed.
  backupBytesPerAccount: 64 * 1024 * 1024,
  // Devices batch entries (one call every few seconds while busy); a restore of history uploads none.
  backupPutPerSession: { burst: 60, perMinute: 60 },
};

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  }
  return value;
}

/** "BURST/PER_MINUTE", e.g. "10/10". */
function rule(env: Env, name: string, fallback: BucketRule): BucketRule {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const match = /^(\d+)\/(\d+)$/.exec(raw);
  if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) {
    throw new Error(`${name} must look like BURST/PER_MINUTE (e.g. 10/10), got "${raw}"`);
  }
  return { burst: Number(match[1]), perMinute: Number(match[2]) };
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new Error(`${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
  }
  return raw as T;
}

/** Settings that protocol 2 removed: set, they would silently do nothing, so they stop the start. */
const REMOVED_SETTINGS = ["QPQ_REQUIRE_CHANNEL_AUTHZ", "QPQ_REQUIRE_CHANNELS"];

export function loadConfig(env: Env = process.env, cwd = process.cwd()): GatewayConfig {
  for (const name of REMOVED_SETTINGS) {
    if (env[name] !== undefined) {
      throw new Error(`${name} was removed: every delivery goes through a channel (docs/protocol.md)`);
    }
  }
  const host = env.QPQ_HOST || "127.0.0.1";
  const tlsCertPath = env.QPQ_TLS_CERT || undefined;
  const tlsKeyPath = env.QPQ_TLS_KEY || undefined;
  if (Boolean(tlsCertPath) !== Boolean(tlsKeyPath)) {
    throw new Error("QPQ_TLS_CERT and QPQ_TLS_KEY must be set together");
  }
  const anyHost = host === "0.0.0.0" || host === "::";
  const acme = acmeConfig(env);
  if (acme && tlsCertPath) throw new Error("QPQ_ACME_DOMAIN and QPQ_TLS_CERT exclude each other");
  const limits: Limits = {
    maxFrameBytes: int(env, "QPQ_MAX_FRAME_BYTES", defaultLimits.maxFrameBytes, 1024, 64 * 1024 * 1024),
    maxSegments: int(env, "QPQ_MAX_SEGMENTS", defaultLimits.maxSegments, 1, 4096),
    maxPayloadBytes: int(env, "QPQ_MAX_PAYLOAD_BYTES", defaultLimits.maxPayloadBytes, 256, 64 * 1024 * 1024),
    maxQueuedPerRecipient: int(env, "QPQ_MAX_QUEUED", defaultLimits.maxQueuedPerRecipient, 1),
    maxKeyPackagesPerPublish: int(env, "QPQ_MAX_KP_PUBLISH", defaultLimits.maxKeyPackagesPerPublish, 1),
    maxKeyPackagesStored: int(env, "QPQ_MAX_KP_STORED", defaultLimits.maxKeyPackagesStored, 1),
    maxFetchPage: int(env, "QPQ_MAX_FETCH_PAGE", defaultLimits.maxFetchPage, 1, 10_000),
    maxInFlightPerConnection: int(env, "QPQ_MAX_IN_FLIGHT", defaultLimits.maxInFlightPerConnection, 1),
    connBufferBytes: int(env, "QPQ_CONN_BUFFER_BYTES", defaultLimits.connBufferBytes, 64 * 1024),
    totalBufferBytes: int(env, "QPQ_TOTAL_BUFFER_BYTES", defaultLimits.totalBufferBytes, 64 * 1024),
    frameDeadlineMs: int(env, "QPQ_FRAME_DEADLINE_MS", defaultLimits.frameDeadlineMs, 1),
    helloDeadlineMs: int(env, "QPQ_HELLO_DEADLINE_MS", defaultLimits.helloDeadlineMs, 1),
    maxPendingLogins: int(env, "QPQ_MAX_PENDING_LOGINS", defaultLimits.maxPendingLogins, 1),
    maxPendingLoginsPerAddress: int(
      env,
      "QPQ_MAX_PENDING_LOGINS_PER_ADDRESS",
      defaultLimits.maxPendingLoginsPerAddress,
      1,
    ),
    loginTimeoutMs: int(env, "QPQ_LOGIN_TIMEOUT_MS", defaultLimits.loginTimeoutMs, 1000),
    sessionTtlMs: int(env, "QPQ_SESSION_TTL_MS", defaultLimits.sessionTtlMs, 1000),
    maxGroupMembers: int(env, "QPQ_MAX_GROUP_MEMBERS", defaultLimits.maxGroupMembers, 2),
    rateLimits: oneOf(env, "QPQ_RATE_LIMIT", ["on", "off"] as const, "on") === "on",
    loginPerUser: rule(env, "QPQ_LOGIN_PER_USER", defaultLimits.loginPerUser),
    authPerAddress: rule(env, "QPQ_AUTH_PER_ADDRESS", defaultLimits.authPerAddress),
    registerPerAddress: rule(env, "QPQ_REGISTER_PER_ADDRESS", defaultLimits.registerPerAddress),
    maxSessionsPerUser: int(env, "QPQ_MAX_SESSIONS_PER_USER", defaultLimits.maxSessionsPerUser, 1, 10_000),
    maxDevicesPerAccount: int(env, "QPQ_MAX_DEVICES", defaultLimits.maxDevicesPerAccount, 1, 100),
    backupBytesPerAccount: int(env, "QPQ_BACKUP_BYTES_PER_ACCOUNT", defaultLimits.backupBytesPerAccount, 0),
    backupPutPerSession: rule(env, "QPQ_BACKUP_PUT_PER_SESSION", defaultLimits.backupPutPerSession),
    resolvePerSession: rule(env, "QPQ_RESOLVE_PER_SESSION", defaultLimits.resolvePerSession),
    resolvePerAddress: rule(env, "QPQ_RESOLVE_PER_ADDRESS", defaultLimits.resolvePerAddress),
    keyPackageFetchPerSession: rule(env, "QPQ_KP_FETCH_PER_SESSION", defaultLimits.keyPackageFetchPerSession),
    keyPackageFetchPerAddress: rule(env, "QPQ_KP_FETCH_PER_ADDRESS", defaultLimits.keyPackageFetchPerAddress),
    keyPackagePublishPerSession: rule(
      env,
      "QPQ_KP_PUBLISH_PER_SESSION",
      defaultLimits.keyPackagePublishPerSession,
    ),
    channelCreatePerSession: rule(
      env,
      "QPQ_CHANNEL_CREATE_PER_SESSION",
      defaultLimits.channelCreatePerSession,
    ),
    sealedPerAddress: rule(env, "QPQ_SEALED_PER_ADDRESS", defaultLimits.sealedPerAddress),
  };
  // A payload that fits no frame would be stored and then break every fetch and push of its recipient.
  const deliverable = maxDeliverablePayload(limits.maxFrameBytes);
  if (limits.maxPayloadBytes > deliverable) {
    throw new Error(
      `QPQ_MAX_PAYLOAD_BYTES (${limits.maxPayloadBytes}) must leave room for the envelope in a frame: ` +
        `at most ${deliverable} with QPQ_MAX_FRAME_BYTES=${limits.maxFrameBytes}`,
    );
  }
  return {
    host,
    quic: quicAdmission(env),
    httpPort: int(env, "QPQ_HTTP_PORT", 8080, 0, 65535),
    wtPort: int(env, "QPQ_WT_PORT", 4433, 0, 65535),
    wtPath: "/wt",
    dataDir: resolve(cwd, env.QPQ_DATA_DIR || "./data"),
    store: oneOf(env, "QPQ_STORE", ["sqlite", "memory"] as const, "sqlite"),
    sqliteSynchronous: oneOf(env, "QPQ_SQLITE_SYNC", ["full", "normal"] as const, "full"),
    tlsCertPath,
    tlsKeyPath,
    tlsPollMs: int(env, "QPQ_TLS_POLL_MS", 5000, 50),
    acme,
    publicHost: env.QPQ_PUBLIC_HOST || acme?.domain || (anyHost ? "localhost" : host),
    webRoot: resolve(cwd, env.QPQ_WEB_ROOT || "web/dist"),
    limits,
    channels: {
      epochWindow: int(env, "QPQ_EPOCH_WINDOW", 3, 0, 1000),
    },
    healthDetails: oneOf(env, "QPQ_HEALTH_DETAILS", ["on", "off"] as const, "off") === "on",
  };
}

function quicAdmission(env: Env): QuicAdmission {
  const d = DEFAULT_LIMITS;
  const maxUnvalidated = int(env, "QPQ_QUIC_MAX_UNVALIDATED", d.maxUnvalidated, 1);
  const retryThreshold = int(env, "QPQ_QUIC_RETRY_THRESHOLD", Math.ceil(maxUnvalidated / 2), 0);
  if (retryThreshold > maxUnvalidated) {
    throw new Error(`QPQ_QUIC_RETRY_THRESHOLD (${retryThreshold}) must not exceed QPQ_QUIC_MAX_UNVALIDATED`);
  }
  return {
    maxConnections: int(env, "QPQ_QUIC_MAX_CONNECTIONS", d.maxConnections, 1),
    maxConnectionsPerAddress: int(env, "QPQ_QUIC_MAX_PER_ADDRESS", d.maxConnectionsPerAddress, 1),
    maxUnvalidated,
    maxUnvalidatedPerAddress: int(env, "QPQ_QUIC_MAX_UNVALIDATED_PER_ADDRESS", d.maxUnvalidatedPerAddress, 1),
    retry: oneOf<RetryMode>(env, "QPQ_QUIC_RETRY", ["auto", "always", "never"], d.retry),
    retryThreshold,
    handshakeTimeoutMs: int(env, "QPQ_QUIC_HANDSHAKE_DEADLINE_MS", d.handshakeTimeoutMs, 100),
  };
}

const HOUR = 3600_000;

function acmeConfig(env: Env): AcmeConfig | undefined {
  const domain = env.QPQ_ACME_DOMAIN;
  if (!domain) return undefined;
  if (
    !/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(domain)
  ) {
    throw new Error(`QPQ_ACME_DOMAIN must be a DNS name, got "${domain}"`);
  }
  const directoryUrl = env.QPQ_ACME_DIRECTORY || LETS_ENCRYPT_DIRECTORY;
  if (!directoryUrl.startsWith("https://")) {
    throw new Error(`QPQ_ACME_DIRECTORY must be an https:// URL, got "${directoryUrl}"`);
  }
  const checkEveryMs = int(env, "QPQ_ACME_CHECK_MS", 12 * HOUR, 1000, 24 * 24 * HOUR);
  const retryMinMs = int(env, "QPQ_ACME_RETRY_MS", 60_000, 100, 24 * HOUR);
  return {
    domain: domain.toLowerCase(),
    email: env.QPQ_ACME_EMAIL || undefined,
    directoryUrl,
    directoryCaFile: env.QPQ_ACME_CA_FILE || undefined,
    renewWhenLeft: int(env, "QPQ_ACME_RENEW_LEFT_PERCENT", 33, 1, 99) / 100,
    checkEveryMs,
    retryMinMs,
    // Retries back off to the check interval, never beyond: a fixed CA is noticed within one check.
    retryMaxMs: Math.max(checkEveryMs, retryMinMs),
  };
}
