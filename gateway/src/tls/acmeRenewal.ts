/**
 * When to obtain or renew the ACME certificate, and what happens when that fails.
 *
 * Renewal is due once only `renewWhenLeft` of the certificate's lifetime remains (a third by default:
 * 30 days of a 90-day Let's Encrypt certificate), checked every `checkEveryMs`. A failed attempt
 * leaves the current certificate in service and is retried after retryMinMs, doubling up to
 * retryMaxMs, so an outage at the CA costs nothing while the old certificate is still valid.
 */
import { log } from "../log.ts";
import type { CertificatePair } from "./acmeStore.ts";

export interface RenewalPolicy {
  /** Fraction of the lifetime (0..1) left when renewal becomes due. */
  renewWhenLeft: number;
  checkEveryMs: number;
  retryMinMs: number;
  retryMaxMs: number;
}

export interface InstalledCertificate {
  notBefore: Date;
  notAfter: Date;
}

export interface RenewalStatus {
  state: "obtaining" | "valid" | "renewing" | "failing";
  notAfter?: string;
  renewAt?: string;
  failures: number;
  lastError?: string;
  lastErrorAt?: string;
  nextAttemptAt?: string;
}

/** Timers hold at most a signed 32-bit number of milliseconds; longer waits fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function renewalDueAt(cert: InstalledCertificate, renewWhenLeft: number): number {
  const start = cert.notBefore.getTime();
  const end = cert.notAfter.getTime();
  return end - (end - start) * renewWhenLeft;
}

/** Wait before retry number `failures` (1 = the first retry). */
export function retryDelay(
  failures: number,
  policy: Pick<RenewalPolicy, "retryMinMs" | "retryMaxMs">,
): number {
  const doubled = policy.retryMinMs * 2 ** Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(doubled, policy.retryMaxMs);
}

export class AcmeRenewal {
  private current: InstalledCertificate | undefined;
  private state: RenewalStatus["state"] = "obtaining";
  private failures = 0;
  private lastError: { message: string; at: number } | undefined;
  private nextAttemptAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<boolean> | undefined;
  private stopped = false;

  constructor(
    private readonly obtain: () => Promise<CertificatePair>,
    /** Puts a pair into service; throws when the pair is unusable. */
    private readonly install: (pair: CertificatePair) => InstalledCertificate,
    private readonly policy: RenewalPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Serves the stored certificate if it is usable, otherwise obtains one, retrying until it succeeds
   * (nothing can be served without one). Then keeps it renewed in the background.
   */
  async start(stored: CertificatePair | undefined): Promise<void> {
    if (stored) {
      try {
        this.current = this.install(stored);
        this.state = "valid";
      } catch (error) {
        log.warn("the stored ACME certificate is unusable; obtaining a new one", { error: String(error) });
      }
    }
    while (!this.current && !this.stopped) {
      if (await this.attempt()) break;
      await new Promise<void>((resolve) => {
        this.timer = setTimeout(resolve, this.nextAttemptAt! - this.now());
      });
    }
    this.schedule();
  }

  /** Renews now, whatever the dates say (operator signal, suspected key compromise). */
  renewNow(): Promise<boolean> {
    if (this.timer) clearTimeout(this.timer);
    return this.attempt().finally(() => this.schedule());
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  status(): RenewalStatus {
    const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
    return {
      state: this.state,
      notAfter: this.current?.notAfter.toISOString(),
      renewAt: iso(this.current && renewalDueAt(this.current, this.policy.renewWhenLeft)),
      failures: this.failures,
      lastError: this.lastError?.message,
      lastErrorAt: iso(this.lastError?.at),
      nextAttemptAt: iso(this.nextAttemptAt),
    };
  }

  /** One attempt at a time: a signal during a running renewal joins it. */
  private attempt(): Promise<boolean> {
    this.running ??= this.renewOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async renewOnce(): Promise<boolean> {
    this.state = this.current ? "renewing" : "obtaining";
    try {
      this.current = this.install(await this.obtain());
      this.failures = 0;
      this.lastError = undefined;
      this.nextAttemptAt = undefined;
      this.state = "valid";
      return true;
    } catch (error) {
      this.failures++;
      this.lastError = { message: error instanceof Error ? error.message : String(error), at: this.now() };
      this.nextAttemptAt = this.now() + retryDelay(this.failures, this.policy);
      this.state = this.current ? "failing" : "obtaining";
      log.error(
        this.current
          ? "ACME renewal failed; the current certificate stays in service"
          : "could not obtain a certificate over ACME",
        {
          error: this.lastError.message,
          failures: this.failures,
          retryAt: new Date(this.nextAttemptAt).toISOString(),
        },
      );
      return false;
    }
  }

  private schedule(): void {
    if (this.stopped || !this.current) return;
    if (this.timer) clearTimeout(this.timer);
    const dueAt =
      this.failures > 0 ? this.nextAttemptAt! : renewalDueAt(this.current, this.policy.renewWhenLeft);
    const wait = Math.min(Math.max(dueAt - this.now(), 0), this.policy.checkEveryMs, MAX_TIMER_MS);
    this.timer = setTimeout(() => {
      if (this.now() < dueAt) return this.schedule();
      void this.attempt().finally(() => this.schedule());
    }, wait);
    this.timer.unref();
  }
}
