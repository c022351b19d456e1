import { describe, expect, it } from "vitest";
import { ErrorCode, QpqError } from "@qpq/shared/protocol";
import { Throttle } from "./throttle.ts";

describe("Throttle", () => {
  const rule = { burst: 3, perMinute: 6 };

  it("allows a burst, then refuses with RateLimited and the time until the next token", () => {
    let now = 0;
    const throttle = new Throttle(() => now);
    for (let i = 0; i < 3; i++) throttle.take([{ key: "u:alice", rule }], "login");
    let error: unknown;
    try {
      throttle.take([{ key: "u:alice", rule }], "login");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(QpqError);
    expect((error as QpqError).code).toBe(ErrorCode.RateLimited);
    expect((error as QpqError).retryAfterMs).toBe(10_000);
    now += 10_000;
    throttle.take([{ key: "u:alice", rule }], "login");
  });

  it("takes from every bucket or from none", () => {
    const throttle = new Throttle(() => 0);
    const tight = { burst: 1, perMinute: 1 };
    throttle.take([{ key: "ip:a", rule: tight }], "login");
    expect(() =>
      throttle.take(
        [
          { key: "u:bob", rule },
          { key: "ip:a", rule: tight },
        ],
        "login",
      ),
    ).toThrow(QpqError);
    // bob's bucket was not charged by the refused attempt.
    for (let i = 0; i < 3; i++) throttle.take([{ key: "u:bob", rule }], "login");
  });

  it("does nothing when disabled", () => {
    const throttle = new Throttle(() => 0, false);
    for (let i = 0; i < 100; i++) throttle.take([{ key: "u:x", rule }], "login");
  });
});
