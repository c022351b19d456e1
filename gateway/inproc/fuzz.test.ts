/**
 * Seeded multi-client fuzz on the in-process gateway (X-Wing, the default suite: fast enough here).
 * A fixed set of seeds runs in CI; QPQ_FUZZ_SEED replays one (or a comma-separated list),
 * QPQ_FUZZ_ROUNDS changes the length, QPQ_FUZZ_PROPOSALS=1 adds proposals committed by others
 * (proposeRemoval, leave), QPQ_FUZZ_VERBOSE=1 prints every run's log. A seed that ever failed stays
 * below as a named regression test.
 */
import { describe, expect, it } from "vitest";
import { converge } from "./fuzz/check.ts";
import { FuzzWorld, type FuzzOptions } from "./fuzz/world.ts";

const DEFAULT_SEEDS = [1, 2, 3, 4, 5, 6];
/**
 * Failed before the fixes they are named after. 14, 18, 21, 23: a member removed while its own
 * commit was pending could never reconnect (GroupCommits now drops a commit the gateway refuses).
 * 29: a session accepted while the in-process gateway restarted was served by the old services.
 */
const REGRESSION_SEEDS = [14, 18, 21, 23, 29];
/**
 * With proposals: 26, 28, 31, 36, 40 left a member that believed it had left (its leave proposal was
 * dropped by a rival commit; GroupLifecycle now proposes it again). Not in CI: proposal runs still
 * fail on some seeds, timing-dependently.
 */
const PROPOSAL_SEEDS = [26, 28, 31, 36, 40];
const ROUNDS = Number(process.env.QPQ_FUZZ_ROUNDS ?? 30);
const PROPOSALS = process.env.QPQ_FUZZ_PROPOSALS === "1";

async function runSeed(options: FuzzOptions): Promise<void> {
  const world = await FuzzWorld.create(options);
  let problems: string[];
  try {
    await world.start();
    await world.run(options.rounds ?? ROUNDS);
    await world.settle();
    problems = await converge(world);
  } finally {
    await world.close();
  }
  const mode = options.proposals ? " QPQ_FUZZ_PROPOSALS=1" : "";
  if (problems.length > 0) {
    throw new Error(
      `fuzz seed ${options.seed} failed (replay: QPQ_FUZZ_SEED=${options.seed}${mode}):\n` +
        `${problems.join("\n")}\n--- log ---\n${world.log.join("\n")}`,
    );
  }
  if (process.env.QPQ_FUZZ_VERBOSE) console.log(`seed ${options.seed}${mode}\n${world.log.join("\n")}`);
  expect(problems).toEqual([]);
}

const replay = process.env.QPQ_FUZZ_SEED?.split(",").map(Number);

describe("multi-client fuzz", () => {
  for (const seed of replay ?? DEFAULT_SEEDS) {
    it(`seed ${seed}`, () => runSeed({ seed, proposals: PROPOSALS }));
  }
});

describe.runIf(replay === undefined)("fuzz regressions", () => {
  for (const seed of REGRESSION_SEEDS) {
    it(`seed ${seed}`, () => runSeed({ seed }));
  }
});

describe.runIf(replay === undefined && PROPOSALS)("fuzz regressions with proposals", () => {
  for (const seed of PROPOSAL_SEEDS) {
    it(`seed ${seed}`, () => runSeed({ seed, proposals: true }));
  }
});
