/**
 * Seeded multi-client fuzz on the in-process gateway. A fixed set of seeds runs in CI; QPQ_FUZZ_SEED
 * replays one (or a comma-separated list), QPQ_FUZZ_ROUNDS changes the length. A seed that ever
 * failed stays below as a named regression test.
 */
import { describe, expect, it } from "vitest";
import { converge } from "./fuzz/check.ts";
import { FuzzWorld, type FuzzOptions } from "./fuzz/world.ts";

const DEFAULT_SEEDS = [1, 2, 3, 4];
const ROUNDS = Number(process.env.QPQ_FUZZ_ROUNDS ?? 30);

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
  if (problems.length > 0) {
    throw new Error(
      `fuzz seed ${options.seed} failed (replay: QPQ_FUZZ_SEED=${options.seed}):\n` +
        `${problems.join("\n")}\n--- log ---\n${world.log.join("\n")}`,
    );
  }
  if (process.env.QPQ_FUZZ_VERBOSE) console.log(`seed ${options.seed}\n${world.log.join("\n")}`);
  expect(problems).toEqual([]);
}

const seeds = process.env.QPQ_FUZZ_SEED ? process.env.QPQ_FUZZ_SEED.split(",").map(Number) : DEFAULT_SEEDS;

describe("multi-client fuzz", () => {
  for (const seed of seeds) {
    it(`seed ${seed}`, () => runSeed({ seed }));
  }
});
