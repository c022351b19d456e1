import { describe, expect, it } from "vitest";
import { BufferBudget } from "./bufferBudget.ts";

describe("BufferBudget", () => {
  it("makes a reservation wait until it fits here and in the total", async () => {
    const total = new BufferBudget(150);
    const a = new BufferBudget(100, total);
    const b = new BufferBudget(100, total);
    await a.reserve(100);
    let reserved = false;
    const waiting = a.reserve(10).then(() => (reserved = true));
    await b.reserve(50);
    expect(total.used).toBe(150);
    const blocked = b.reserve(10);
    await Promise.resolve();
    expect(reserved).toBe(false);
    a.add(-100);
    await waiting;
    expect(a.used).toBe(10);
    // b waited on the total, which a's release freed as well.
    await blocked;
    expect(total.used).toBe(70);
    expect(total.peak).toBe(150);
  });

  it("lets something larger than the whole budget into an empty one only", async () => {
    const budget = new BufferBudget(10);
    await budget.reserve(25);
    expect(budget.within).toBe(false);
    const next = budget.reserve(1);
    budget.add(-25);
    await next;
    expect(budget.used).toBe(1);
  });

  it("stops waiting when the signal aborts", async () => {
    const budget = new BufferBudget(10);
    await budget.reserve(10);
    budget.add(5);
    const controller = new AbortController();
    const wait = budget.whenWithin(controller.signal);
    controller.abort(new Error("closed"));
    await expect(wait).rejects.toThrow("closed");
    await expect(budget.reserve(1, controller.signal)).rejects.toThrow("closed");
  });
});
