/**
 * The transport seam of the gateway. Everything above it sees sessions as WebTransportLike (plus who the
 * peer is); this implementation is WebTransport over HTTP/3 on quiche, and another one (WebSocket,
 * a native WebTransport addon) can be swapped in behind the same two functions.
 */
export { startWebTransportServer } from "./server.ts";
export type { WebTransportServer, WebTransportServerOptions, WebTransportServerSession } from "./server.ts";
export { connectWebTransport } from "./client.ts";
export type { ConnectOptions, WebTransportClientSession } from "./client.ts";
export { WebTransportError } from "./errors.ts";
export { DEFAULT_LIMITS, type TransportLimits } from "./config.ts";
export type { AdmissionStats, RetryMode } from "./admission.ts";
export type { DatagramDuplex } from "./wtSession.ts";
