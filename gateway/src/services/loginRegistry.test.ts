import { describe, expect, it } from "vitest";
import { ErrorCode } from "@qpq/shared/protocol";
import { LoginRegistry, type PendingLogin } from "./loginRegistry.ts";

const TIMEOUT = 60_000;

function login(now: number, username = "alice"): PendingLogin {
  return { username, userExists: true, serverLoginState: "state", expiresAtMs: now + TIMEOUT };
}

const rateLimited = expect.objectContaining({ code: ErrorCode.RateLimited });

describe("LoginRegistry", () => {
  it("a flood from one address ends nobody else's pending login", () => {
    const now = 0;
    const registry = new LoginRegistry(1000, () => now, 10);
    const alice = registry.add(login(now), "198.51.100.1");
    for (let i = 0; i < 10; i++) registry.add(login(now, "mallory"), "203.0.113.9");
    expect(() => registry.add(login(now, "mallory"), "203.0.113.9")).toThrow(rateLimited);
    // Other addresses still start logins, and alice's can still be finished.
    registry.add(login(now, "bob"), "198.51.100.2");
    expect(registry.take(alice)?.username).toBe("alice");
  });

  it("at the global bound, new logins are refused with the wait until the oldest expires", () => {
    let now = 0;
    const registry = new LoginRegistry(3, () => now, 3);
    const first = registry.add(login(now), "a");
    now = 1000;
    registry.add(login(now), "b");
    registry.add(login(now), "c");
    let error: unknown;
    try {
      registry.add(login(now), "d");
    } catch (e) {
      error = e;
    }
    expect(error).toEqual(rateLimited);
    expect((error as { retryAfterMs: number }).retryAfterMs).toBe(TIMEOUT - 1000);
    expect(() => registry.checkRoom("d", TIMEOUT)).toThrow(rateLimited);
    // Nothing was evicted to make room.
    expect(registry.take(first)?.username).toBe("alice");
    registry.add(login(now), "d");
  });

  it("over an address's bound, the wait is until that address's oldest login expires", () => {
    let now = 0;
    const registry = new LoginRegistry(1000, () => now, 2);
    registry.add(login(now), "x");
    now = 5000;
    registry.add(login(now), "a");
    now = 20_000;
    registry.add(login(now), "a");
    let error: unknown;
    try {
      registry.add(login(now), "a");
    } catch (e) {
      error = e;
    }
    expect(error).toEqual(rateLimited);
    // The first of "a" expires at 65,000: 45 s from now, not a whole timeout.
    expect((error as { retryAfterMs: number }).retryAfterMs).toBe(5000 + TIMEOUT - 20_000);
    now = 5000 + TIMEOUT;
    registry.add(login(now), "a");
  });

  it("expired logins free their address's and the gateway's room", () => {
    let now = 0;
    const registry = new LoginRegistry(2, () => now, 1);
    const stale = registry.add(login(now), "a");
    expect(() => registry.add(login(now), "a")).toThrow(rateLimited);
    now = TIMEOUT;
    registry.add(login(now), "a");
    registry.add(login(now), "b");
    expect(registry.size).toBe(2);
    // A login id is good once, and not after its timeout.
    expect(registry.take(stale)).toBeUndefined();
  });

  it("a finished login frees its address's room", () => {
    const registry = new LoginRegistry(10, () => 0, 1);
    const id = registry.add(login(0), "a");
    expect(registry.take(id)).toBeDefined();
    expect(registry.take(id)).toBeUndefined();
    registry.add(login(0), "a");
  });
});
