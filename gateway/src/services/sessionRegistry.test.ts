import { describe, expect, it } from "vitest";
import { SessionRegistry, type SessionHolder } from "./sessionRegistry.ts";

function holder(): SessionHolder & { ended: string[] } {
  const ended: string[] = [];
  return { ended, endSession: (detail) => ended.push(detail) };
}

describe("SessionRegistry", () => {
  it("ends a session on every holder but the one that asked, and forgets them", () => {
    const registry = new SessionRegistry();
    const token = new Uint8Array(32).fill(1);
    const [a, b, c, other] = [holder(), holder(), holder(), holder()];
    for (const h of [a, b, c]) registry.bind(token, h);
    registry.bind(new Uint8Array(32).fill(2), other);

    expect(registry.end(token, "logged out", a)).toBe(2);
    expect([a.ended, b.ended, c.ended, other.ended]).toEqual([[], ["logged out"], ["logged out"], []]);
    expect(registry.end(token, "again")).toBe(1);
    expect(registry.size).toBe(1);
  });

  it("moves a holder that binds another session, and unbinds on request", () => {
    const registry = new SessionRegistry();
    const first = new Uint8Array(32).fill(1);
    const h = holder();
    registry.bind(first, h);
    registry.bind(new Uint8Array(32).fill(2), h);
    expect(registry.end(first, "gone")).toBe(0);
    registry.unbind(h);
    expect(registry.size).toBe(0);
  });
});
