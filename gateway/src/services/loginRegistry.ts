/**
 * OPAQUE login is two round trips; between them the gateway must remember the server login state.
 * It lives here, in memory, under a random login id, bounded in count and age so that a flood of
 * loginStart calls cannot exhaust memory. A restart simply makes clients start the login again.
 *
 * Nothing a caller does may end another caller's pending login: once a bound is reached, new logins
 * are refused (RateLimited) instead of evicting old ones. Evicting the oldest would let one source's
 * flood of loginStart calls cancel every login in progress on the gateway. Each source address (an
 * IPv6 /64) may hold only a share of the global bound, so one source alone cannot reach it either.
 */
import { randomBytes } from "node:crypto";
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { toHex } from "@qpq/shared/bytes";

export interface PendingLogin {
  username: string;
  /** False for a login started against the dummy record of an unknown username. */
  userExists: boolean;
  serverLoginState: string;
  expiresAtMs: number;
}

interface Entry {
  login: PendingLogin;
  source: string;
}

export class LoginRegistry {
  // Map iteration order is insertion order and every login gets the same timeout, so the first
  // entries are the first to expire: dropping expired ones is cheap.
  private readonly pending = new Map<string, Entry>();
  /** Each source's pending login keys, oldest first (a Set keeps insertion order). */
  private readonly perSource = new Map<string, Set<string>>();

  constructor(
    private readonly maxPending: number,
    private readonly now: () => number,
    private readonly maxPerSource: number = maxPending,
  ) {}

  /**
   * Throws RateLimited when `source` (the caller's addressKey) or the gateway already holds as many
   * pending logins as allowed; called before the OPAQUE work too, so a refused login costs nothing.
   * `retryAfterMs` is when the oldest pending login will have expired at the latest.
   */
  checkRoom(source: string, timeoutMs: number): void {
    this.evictExpired();
    const mine = this.perSource.get(source);
    if (mine && mine.size >= this.maxPerSource) {
      // When this source's oldest login expires, not a whole timeout: a client that waits as told
      // (all clients behind one NAT, or on loopback in tests, share the source) is not held back longer.
      const oldest = this.pending.get(mine.values().next().value ?? "");
      const wait = oldest ? Math.max(1, oldest.login.expiresAtMs - this.now()) : timeoutMs;
      throw new QpqError(ErrorCode.RateLimited, "too many logins in progress from this address", wait);
    }
    if (this.pending.size >= this.maxPending) {
      const oldest = this.pending.values().next();
      const wait = oldest.done ? timeoutMs : Math.max(1, oldest.value.login.expiresAtMs - this.now());
      throw new QpqError(ErrorCode.RateLimited, "too many logins in progress; try again shortly", wait);
    }
  }

  /** Registers a login started from `source`, refused like checkRoom. */
  add(login: PendingLogin, source: string): Uint8Array {
    this.checkRoom(source, Math.max(1, login.expiresAtMs - this.now()));
    const id = new Uint8Array(randomBytes(16));
    const key = toHex(id);
    this.pending.set(key, { login, source });
    let mine = this.perSource.get(source);
    if (!mine) this.perSource.set(source, (mine = new Set()));
    mine.add(key);
    return id;
  }

  /** Removes and returns the login: a login id is good for exactly one finish attempt. */
  take(id: Uint8Array): PendingLogin | undefined {
    const key = toHex(id);
    const entry = this.pending.get(key);
    if (!entry) return undefined;
    this.remove(key, entry);
    return entry.login.expiresAtMs > this.now() ? entry.login : undefined;
  }

  get size(): number {
    return this.pending.size;
  }

  private remove(key: string, entry: Entry): void {
    this.pending.delete(key);
    const mine = this.perSource.get(entry.source);
    mine?.delete(key);
    if (mine?.size === 0) this.perSource.delete(entry.source);
  }

  private evictExpired(): void {
    const now = this.now();
    for (const [key, entry] of this.pending) {
      if (entry.login.expiresAtMs > now) break;
      this.remove(key, entry);
    }
  }
}
