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
  private readonly perSource = new Map<string, number>();

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
    if ((this.perSource.get(source) ?? 0) >= this.maxPerSource) {
      throw new QpqError(ErrorCode.RateLimited, "too many logins in progress from this address", timeoutMs);
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
    this.pending.set(toHex(id), { login, source });
    this.perSource.set(source, (this.perSource.get(source) ?? 0) + 1);
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
    const left = (this.perSource.get(entry.source) ?? 1) - 1;
    if (left > 0) this.perSource.set(entry.source, left);
    else this.perSource.delete(entry.source);
  }

  private evictExpired(): void {
    const now = this.now();
    for (const [key, entry] of this.pending) {
      if (entry.login.expiresAtMs > now) break;
      this.remove(key, entry);
    }
  }
}
