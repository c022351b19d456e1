/**
 * Token buckets against password guessing and account-creation floods. OPAQUE makes each guess cost
 * the attacker a full login round trip, but without a limit a patient attacker could still try
 * thousands of passwords against one account; a username bucket stops that, and an address bucket
 * stops one source from spreading guesses over many accounts. Buckets live in memory: a restart
 * forgets them, which costs an attacker a restart they cannot cause.
 */
import { ErrorCode, QpqError } from "@qpq/shared/protocol";

export interface BucketRule {
  /** Attempts allowed at once. */
  burst: number;
  /** Attempts regained per minute. */
  perMinute: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** Bound on tracked keys; past it, the buckets that have refilled (the forgettable ones) go first. */
const MAX_KEYS = 100_000;

export class Throttle {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly now: () => number,
    private readonly enabled = true,
  ) {}

  /** Takes one token from each named bucket, or throws E016 with the wait until one is back. */
  take(checks: { key: string; rule: BucketRule }[], what: string): void {
    if (!this.enabled) return;
    const now = this.now();
    let waitMs = 0;
    const buckets = checks.map(({ key, rule }) => {
      const bucket = this.refill(key, rule, now);
      if (bucket.tokens < 1)
        waitMs = Math.max(waitMs, Math.ceil(((1 - bucket.tokens) * 60_000) / rule.perMinute));
      return bucket;
    });
    if (waitMs > 0) {
      throw new QpqError(ErrorCode.RateLimited, `too many ${what} attempts; try again later`, waitMs);
    }
    for (const bucket of buckets) bucket.tokens -= 1;
  }

  private refill(key: string, rule: BucketRule, now: number): Bucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_KEYS) this.evict(now, rule);
      bucket = { tokens: rule.burst, updatedMs: now };
      this.buckets.set(key, bucket);
      return bucket;
    }
    const regained = ((now - bucket.updatedMs) / 60_000) * rule.perMinute;
    bucket.tokens = Math.min(rule.burst, bucket.tokens + regained);
    bucket.updatedMs = now;
    return bucket;
  }

  private evict(now: number, rule: BucketRule): void {
    for (const [key, bucket] of this.buckets) {
      const full = bucket.tokens + ((now - bucket.updatedMs) / 60_000) * rule.perMinute >= rule.burst;
      if (full) this.buckets.delete(key);
      if (this.buckets.size < MAX_KEYS * 0.9) return;
    }
    // Everything is in use: drop the oldest entries rather than grow without bound.
    for (const key of this.buckets.keys()) {
      this.buckets.delete(key);
      if (this.buckets.size < MAX_KEYS * 0.9) return;
    }
  }
}

/** IPv6 clients own whole /64s, so they are throttled per /64, not per address. */
export function addressKey(address: string): string {
  if (!address.includes(":") || address.startsWith("::ffff:")) return address.replace(/^::ffff:/, "");
  const groups = address.split("%")[0]!.split(":");
  return groups.slice(0, 4).join(":") + "::/64";
}

/** A bucket name for a session: a prefix of its token hash is unique enough and never the token. */
export function sessionKey(tokenHash: Uint8Array): string {
  return Buffer.from(tokenHash.subarray(0, 16)).toString("hex");
}
