/**
 * What every operation handler receives: the connection it serves and the gateway's shared services.
 * Handlers are plain async functions (one module per operation group) so each one's validation,
 * authorization and store calls read top to bottom in one place.
 */
import type { RequestMap, RequestType, ResultMap } from "@qpq/shared/protocol";
import type { GatewayConfig } from "../config.ts";
import type { Store } from "../store/types.ts";
import type { LoginRegistry } from "./loginRegistry.ts";
import type { Metrics } from "./metrics.ts";
import type { OpaqueServer } from "./opaque.ts";
import type { Delivery } from "../delivery/delivery.ts";
import type { DeviceDirectory } from "./deviceDirectory.ts";
import type { SessionRegistry, SessionHolder } from "./sessionRegistry.ts";
import type { Throttle } from "./throttle.ts";

export interface AuthenticatedSession {
  username: string;
  identityKey: Uint8Array;
  /** The device this session acts for; empty until attachDevice (or a first queue operation). */
  deviceKey: Uint8Array;
  tokenHash: Uint8Array;
  expiresAtMs: number;
}

/** Per-connection state, owned by the connection handler; handlers read and update it. */
export interface ConnectionState extends SessionHolder {
  readonly id: number;
  readonly remoteAddress: string;
  /** Negotiated protocol version; undefined until hello succeeded. */
  version: number | undefined;
  session: AuthenticatedSession | undefined;
  /** Username of a registration started on this connection (registerFinish must match it). */
  pendingRegistration?: string;
  /**
   * Starts pushing the session's queue after afterSeq (only one channel's envelopes when channelId is
   * given) on this connection's push stream, replacing any earlier subscription of the connection; it
   * ends with the connection or a logout.
   */
  subscribe(recipientKey: Uint8Array, afterSeq: number, channelId?: Uint8Array): void;
}

export interface Services {
  readonly config: GatewayConfig;
  readonly store: Store;
  readonly opaque: OpaqueServer;
  readonly logins: LoginRegistry;
  readonly delivery: Delivery;
  readonly devices: DeviceDirectory;
  readonly throttle: Throttle;
  readonly sessions: SessionRegistry;
  readonly metrics: Metrics;
  readonly now: () => number;
  readonly startedAtMs: number;
}

/** One operation: the request member's content in, the result member's content out. */
export type Handler<T extends RequestType> = (
  request: RequestMap[T],
  conn: ConnectionState,
  services: Services,
) => Promise<ResultMap[T]>;

export type HandlerTable = { [T in RequestType]: Handler<T> };
