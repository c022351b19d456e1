/**
 * Seeded multi-client fuzz on the in-process gateway (X-Wing, the default suite: fast enough here).
 * A fixed set of seeds runs in CI; QPQ_FUZZ_SEED replays one (or a comma-separated list),
 * QPQ_FUZZ_ROUNDS changes the length, QPQ_FUZZ_PROPOSALS=1 adds proposals committed by others
 * (proposeRemoval, leave), QPQ_FUZZ_VERBOSE=1 prints every run's log. A seed that ever failed stays
 * in fuzzRegressions.test.ts as a named regression test.
 */
import { describe, it } from "vitest";
import { PROPOSALS, runSeed } from "./fuzz/run.ts";

const DEFAULT_SEEDS = [1, 2, 3, 4, 5, 6];
const replay = process.env.QPQ_FUZZ_SEED?.split(",").map(Number);

describe("multi-client fuzz", () => {
  for (const seed of replay ?? DEFAULT_SEEDS) {
    it(`seed ${seed}`, () => runSeed({ seed, proposals: PROPOSALS }));
  }
});
