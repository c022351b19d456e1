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

/**
 * IPv6 clients own whole /64s, so they are throttled per /64, not per address. The address is
 * expanded to its eight groups first: a /64 read off the text would give every compressed spelling
 * (and every position of the "::") its own bucket. IPv4-mapped addresses are IPv4 clients.
 */
export function addressKey(address: string): string {
  const host = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address;
  if (!host.includes(":")) return host;
  const groups = parseIPv6(host.split("%")[0]!);
  // Not an address (the transport always gives one): its own key, as before.
  if (!groups) return host.toLowerCase();
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >>> 8, groups[6]! & 0xff, groups[7]! >>> 8, groups[7]! & 0xff].join(".");
  }
  return (
    groups
      .slice(0, 4)
      .map((g) => g.toString(16))
      .join(":") + "::/64"
  );
}

/** The eight 16-bit groups of an IPv6 address in any RFC 4291 text form, or undefined. */
export function parseIPv6(text: string): number[] | undefined {
  const lastColon = text.lastIndexOf(":");
  if (lastColon < 0) return undefined;
  let body = text;
  const tail: number[] = [];
  if (text.includes(".", lastColon)) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (!v4) return undefined;
    tail.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    // "::1.2.3.4" keeps its "::"; "::ffff:1.2.3.4" loses the colon before the dotted part.
    const before = text.slice(0, lastColon + 1);
    body = before.endsWith("::") ? before : text.slice(0, lastColon);
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const head = hexGroups(halves[0]!);
  const after = halves.length === 2 ? hexGroups(halves[1]!) : [];
  if (!head || !after) return undefined;
  const explicit = head.length + after.length + tail.length;
  // "::" stands for at least one group of zeros; without it all eight are spelled out.
  if (halves.length === 2 ? explicit > 7 : explicit !== 8) return undefined;
  return [...head, ...new Array<number>(8 - explicit).fill(0), ...after, ...tail];
}

function hexGroups(part: string): number[] | undefined {
  if (part === "") return [];
  const out: number[] = [];
  for (const group of part.split(":")) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    out.push(parseInt(group, 16));
  }
  return out;
}

function parseIPv4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const octets = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  return octets.every((o) => o <= 255) ? octets : undefined;
}

/** A bucket name for a session: a prefix of its token hash is unique enough and never the token. */
export function sessionKey(tokenHash: Uint8Array): string {
  return Buffer.from(tokenHash.subarray(0, 16)).toString("hex");
}
