import { describe, expect, it } from "vitest";
import { safetyNumber } from "./safetyNumber.ts";

const alice = { username: "alice", identityKey: new Uint8Array(32).fill(1) };
const bob = { username: "bob", identityKey: new Uint8Array(32).fill(2) };

describe("safety numbers", () => {
  it("are 12 groups of 5 digits, the same from both sides", () => {
    const number = safetyNumber(alice, bob);
    expect(number).toMatch(/^(\d{5} ){11}\d{5}$/);
    expect(safetyNumber(bob, alice)).toBe(number);
  });

  it("change when either key or name changes", () => {
    const number = safetyNumber(alice, bob);
    expect(safetyNumber(alice, { ...bob, identityKey: new Uint8Array(32).fill(3) })).not.toBe(number);
    expect(safetyNumber({ ...alice, username: "alicia" }, bob)).not.toBe(number);
  });

  it("are stable across releases (pinned vector: a change would make every verified contact look changed)", () => {
    expect(safetyNumber(alice, bob)).toBe(
      "37812 37970 04775 76222 69836 61495 84443 70421 74322 38920 06509 06633",
    );
  });
});
