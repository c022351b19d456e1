/**
 * Builds the services every handler shares from a config, a store and a clock. The gateway process
 * and the in-process test gateway both compose through here, so tests run the same wiring operators
 * do; the clock is a parameter so tests can move time (session expiry, rate limits, key rotation)
 * without waiting for it.
 */
import type { GatewayConfig } from "../config.ts";
import { Delivery } from "../delivery/delivery.ts";
import type { Store } from "../store/types.ts";
import type { Services } from "./context.ts";
import { DeviceDirectory } from "./deviceDirectory.ts";
import { LoginRegistry } from "./loginRegistry.ts";
import { Metrics } from "./metrics.ts";
import { createOpaqueServer } from "./opaque.ts";
import { SessionRegistry } from "./sessionRegistry.ts";
import { Throttle } from "./throttle.ts";

/** Milliseconds since the epoch, like Date.now; an object with now() or the function itself. */
export type Clock = { now(): number } | (() => number);

export const systemClock: Clock = () => Date.now();

export function clockFunction(clock: Clock): () => number {
  return typeof clock === "function" ? clock : () => clock.now();
}

export async function createServices(
  config: GatewayConfig,
  store: Store,
  clock: Clock = systemClock,
): Promise<Services> {
  const now = clockFunction(clock);
  const metrics = new Metrics();
  return {
    config,
    store,
    opaque: await createOpaqueServer(store, metrics),
    logins: new LoginRegistry(config.limits.maxPendingLogins, now, config.limits.maxPendingLoginsPerAddress),
    delivery: new Delivery(store, config.limits, now),
    devices: new DeviceDirectory(store),
    throttle: new Throttle(now, config.limits.rateLimits),
    sessions: new SessionRegistry(),
    metrics,
    now,
    startedAtMs: now(),
  };
}
