/** One fuzz run from its seed: build, act, settle, judge; a failure names the seed and the log. */
import { expect } from "vitest";
import { converge } from "./check.ts";
import { FuzzWorld, type FuzzOptions } from "./world.ts";

const ROUNDS = Number(process.env.QPQ_FUZZ_ROUNDS ?? 30);
const SUITE = process.env.QPQ_FUZZ_SUITE as FuzzOptions["suite"];
export const PROPOSALS = process.env.QPQ_FUZZ_PROPOSALS === "1";

export async function runSeed(options: FuzzOptions): Promise<void> {
  const world = await FuzzWorld.create({ ...(SUITE ? { suite: SUITE } : {}), ...options });
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
