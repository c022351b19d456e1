/**
 * Notices a dead gateway connection. A gateway that is SIGKILLed or loses its network sends no QUIC
 * CONNECTION_CLOSE, and the transport would wait for its idle timeout (30 s or more, and browsers do
 * not always report even that promptly); a small health call with a deadline tells in seconds.
 *
 * The trade-off: a short deadline notices sooner, but a machine busy enough to stall the page or the
 * gateway for that long would report a healthy connection dead, reconnect for nothing and flap the
 * badge. So one late answer is not enough: a missed deadline is confirmed at once by a second probe,
 * and only `misses` consecutive misses count as death. With the defaults a dead gateway is noticed
 * within interval + misses × timeout (4 + 2 × 3 = 10 s), and a healthy one survives a stall of up to
 * misses × timeout (6 s), which loopback on a loaded two-core CI machine stays well below.
 */
import { ErrorCode, QpqError } from "../protocol/index.ts";

export interface HeartbeatOptions {
  /** Time between probes of a connection that answers. */
  intervalMs: number;
  /** How long one probe may go unanswered before it counts as missed. */
  timeoutMs: number;
  /** Consecutive missed probes that make the connection count as dead (at least 1). */
  misses: number;
}

export const DEFAULT_HEARTBEAT: HeartbeatOptions = { intervalMs: 4_000, timeoutMs: 3_000, misses: 2 };

/**
 * Probes until the returned function is called. `probe` gets the deadline and rejects with a
 * TimeoutError DOMException when it passes (GatewayClient.health does). `onDead` runs at most once.
 */
export function startHeartbeat(
  probe: (timeoutMs: number) => Promise<unknown>,
  options: HeartbeatOptions,
  onDead: (detail: string) => void,
): () => void {
  const misses = Math.max(1, options.misses);
  let missed = 0;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const dead = (detail: string) => {
    stopped = true;
    onDead(detail);
  };
  const run = () => {
    timer = undefined;
    probe(options.timeoutMs).then(
      () => {
        if (stopped) return;
        missed = 0;
        timer = setTimeout(run, options.intervalMs);
      },
      (error: unknown) => {
        if (stopped) return;
        if (error instanceof QpqError && error.code === ErrorCode.Unavailable) {
          // The RPC layer already knows the connection is gone: nothing to confirm.
          dead(error.message);
        } else if (isTimeout(error)) {
          if (++missed >= misses) dead(`no answer to ${missed} heartbeats within ${options.timeoutMs} ms`);
          // Confirmed at once rather than an interval later, so noticing stays quick.
          else run();
        } else {
          // Any other answer (an error response) still proves the gateway is there.
          missed = 0;
          timer = setTimeout(run, options.intervalMs);
        }
      },
    );
  };
  timer = setTimeout(run, options.intervalMs);
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
}

function isTimeout(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { name?: unknown }).name === "TimeoutError";
}
