/**
 * Counters of what peers did that the gateway refused without an error of its own: an operator
 * watches them to tell a fuzzer or a broken client from a gateway fault (which is logged instead).
 * In memory and per process; /healthz reports them when QPQ_HEALTH_DETAILS is on.
 */
export type CounterName =
  /** An OPAQUE message (registration request or record, login request) that does not parse. */
  "opaqueMalformed";

export class Metrics {
  private readonly counts = new Map<CounterName, number>();

  count(name: CounterName): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }

  get(name: CounterName): number {
    return this.counts.get(name) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}
