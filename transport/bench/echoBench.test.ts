import { describe, expect, it } from "vitest";
import { runEchoBench } from "./echoBench.ts";

describe("echo benchmark", () => {
  it("runs a short echo round and reports rates and latencies", async () => {
    const r = await runEchoBench({ clients: 2, seconds: 1, payloadBytes: 1024, inFlight: 4 });
    expect(r.msgsPerSec).toBeGreaterThan(100);
    expect(r.p50Ms).toBeGreaterThan(0);
    expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
  });
});
