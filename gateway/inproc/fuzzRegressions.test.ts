/**
 * Fuzz seeds that once failed, each named after the bug it found (fuzz.test.ts says how to replay).
 * Skipped while QPQ_FUZZ_SEED picks seeds to replay.
 */
import { describe, it } from "vitest";
import { PROPOSALS, runSeed } from "./fuzz/run.ts";

/**
 * Failed before the fixes they are named after. 14, 18, 21, 23: a member removed while its own
 * commit was pending could never reconnect (GroupCommits now drops a commit the gateway refuses).
 * 29: a session accepted while the in-process gateway restarted was served by the old services.
 */
const REGRESSION_SEEDS = [14, 18, 21, 23, 29];
/**
 * With proposals: 26, 28, 31, 36, 40, 4, 17 left a member that believed it had left (its leave
 * proposal was dropped by a rival commit, or its resend failed while offline; GroupLifecycle now
 * proposes it again, also at every attach). Not in CI: proposal runs still fail on a few seeds,
 * timing-dependently (two remove proposals for one leaf make every commit of them invalid).
 */
const PROPOSAL_SEEDS = [26, 28, 31, 36, 40, 4, 17];
const replay = process.env.QPQ_FUZZ_SEED;

describe.runIf(!replay)("fuzz regressions", () => {
  for (const seed of REGRESSION_SEEDS) {
    it(`seed ${seed}`, () => runSeed({ seed }));
  }
});

describe.runIf(!replay && PROPOSALS)("fuzz regressions with proposals", () => {
  for (const seed of PROPOSAL_SEEDS) {
    it(`seed ${seed}`, () => runSeed({ seed, proposals: true }));
  }
});
