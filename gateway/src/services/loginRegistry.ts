/**
 * OPAQUE login is two round trips; between them the gateway must remember the server login state.
 * It lives here, in memory, under a random login id, bounded in count and age so that a flood of
 * loginStart calls cannot exhaust memory. A restart simply makes clients start the login again.
 */
import { randomBytes } from "node:crypto";
import { toHex } from "@qpq/shared/bytes";

export interface PendingLogin {
  username: string;
  /** False for a login started against the dummy record of an unknown username. */
  userExists: boolean;
  serverLoginState: string;
  expiresAtMs: number;
}

export class LoginRegistry {
  // Map iteration order is insertion order, so the first entries are the oldest: eviction is cheap.
  private readonly pending = new Map<string, PendingLogin>();

  constructor(
    private readonly maxPending: number,
    private readonly now: () => number,
  ) {}

  add(login: PendingLogin): Uint8Array {
    this.evictExpired();
    while (this.pending.size >= this.maxPending) {
      const oldest = this.pending.keys().next();
      if (oldest.done) break;
      this.pending.delete(oldest.value);
    }
    const id = new Uint8Array(randomBytes(16));
    this.pending.set(toHex(id), login);
    return id;
  }

  /** Removes and returns the login: a login id is good for exactly one finish attempt. */
  take(id: Uint8Array): PendingLogin | undefined {
    const key = toHex(id);
    const login = this.pending.get(key);
    if (!login) return undefined;
    this.pending.delete(key);
    return login.expiresAtMs > this.now() ? login : undefined;
  }

  get size(): number {
    return this.pending.size;
  }

  private evictExpired(): void {
    const now = this.now();
    for (const [key, login] of this.pending) {
      if (login.expiresAtMs > now) break;
      this.pending.delete(key);
    }
  }
}
