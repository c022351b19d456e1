/**
 * Small, dependency-free statistics for timing side-channel tests: a seeded PRNG (so a failing run can
 * be replayed with the same call order), order statistics, rank tests and a percentile bootstrap.
 */

/** mulberry32: a tiny 32-bit PRNG, good enough to shuffle test inputs reproducibly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Quantile q (0..1) with linear interpolation between order statistics (R type 7). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new RangeError("quantile of an empty sample");
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Complementary error function, Numerical Recipes `erfcc`: fractional error below 1.2e-7 everywhere. */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Two-sided p-value of a standard normal statistic. */
export function twoSidedP(z: number): number {
  return erfc(Math.abs(z) / Math.SQRT2);
}

/** Ranks 1..n with ties given their average rank; also returns the tie correction sum of (t^3 - t). */
function rank(values: readonly number[]): { ranks: number[]; tieSum: number } {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  let tieSum = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    const average = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]![1]] = average;
    const t = j - i + 1;
    tieSum += t * t * t - t;
    i = j + 1;
  }
  return { ranks, tieSum };
}

export interface TestResult {
  /** Standardized statistic (normal approximation, tie- and continuity-corrected). */
  z: number;
  /** Two-sided p-value. */
  p: number;
}

/**
 * Wilcoxon signed-rank test that the paired differences are centred on zero. Zero differences are
 * dropped (Wilcoxon's convention). The normal approximation is accurate for the hundreds of pairs a
 * timing test collects.
 */
export function wilcoxonSignedRank(differences: readonly number[]): TestResult {
  const nonZero = differences.filter((d) => d !== 0);
  const n = nonZero.length;
  if (n === 0) return { z: 0, p: 1 };
  const { ranks, tieSum } = rank(nonZero.map(Math.abs));
  let positive = 0;
  for (let i = 0; i < n; i++) if (nonZero[i]! > 0) positive += ranks[i]!;
  const mean = (n * (n + 1)) / 4;
  const variance = (n * (n + 1) * (2 * n + 1)) / 24 - tieSum / 48;
  if (variance <= 0) return { z: 0, p: 1 };
  const deviation = positive - mean;
  const z = (deviation - Math.sign(deviation) * 0.5) / Math.sqrt(variance);
  return { z, p: Math.min(1, twoSidedP(z)) };
}

/** Mann-Whitney U test (two independent samples), for reporting alongside the paired test. */
export function mannWhitneyU(a: readonly number[], b: readonly number[]): TestResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return { z: 0, p: 1 };
  const { ranks, tieSum } = rank([...a, ...b]);
  let rankSumA = 0;
  for (let i = 0; i < n1; i++) rankSumA += ranks[i]!;
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieSum / (n * (n - 1)));
  if (variance <= 0) return { z: 0, p: 1 };
  const deviation = u - mean;
  const z = (deviation - Math.sign(deviation) * 0.5) / Math.sqrt(variance);
  return { z, p: Math.min(1, twoSidedP(z)) };
}

/** Percentile bootstrap confidence interval for `statistic` of `values`. */
export function bootstrapInterval(
  values: readonly number[],
  statistic: (sample: number[]) => number,
  random: () => number,
  { resamples = 2000, confidence = 0.95 } = {},
): [number, number] {
  const estimates: number[] = [];
  const sample = new Array<number>(values.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < values.length; i++) sample[i] = values[Math.floor(random() * values.length)]!;
    estimates.push(statistic(sample));
  }
  const alpha = (1 - confidence) / 2;
  return [quantile(estimates, alpha), quantile(estimates, 1 - alpha)];
}

export interface LatencyComparison {
  /** Pairs measured, and pairs left after trimming. */
  pairs: number;
  kept: number;
  /** Medians of the kept samples, in the unit of the input (ms). */
  medianA: number;
  medianB: number;
  medianPooled: number;
  /** Median of the paired differences b - a, absolute and relative to the pooled median. */
  medianDifference: number;
  relativeDifference: number;
  /** 95% bootstrap interval of the relative difference (for the report; not used for the verdict). */
  relativeInterval: [number, number];
  /** The verdict's test: Wilcoxon signed-rank on the paired differences. */
  signedRank: TestResult;
  /** For the report: Mann-Whitney U on the two trimmed samples, ignoring the pairing. */
  mannWhitney: TestResult;
  significant: boolean;
  meaningful: boolean;
  /** Significant and meaningful: the two kinds of call are distinguishable by timing. */
  differs: boolean;
}

export interface CompareOptions {
  /** Fraction of the slowest samples (pooled, label-blind) whose pairs are dropped. */
  trim?: number;
  /** Significance level of the signed-rank test. */
  alpha?: number;
  /** Smallest |median difference| / pooled median that counts as a real difference. */
  minRelativeDifference?: number;
  random?: () => number;
}

/**
 * Compares two latency samples measured in adjacent pairs (a[i] and b[i] one right after the other, in
 * random order). See enumeration.test.ts for why each step is there.
 */
export function compareLatencies(
  a: readonly number[],
  b: readonly number[],
  { trim = 0.1, alpha = 0.001, minRelativeDifference = 0.2, random = seededRandom(1) }: CompareOptions = {},
): LatencyComparison {
  if (a.length !== b.length || a.length === 0)
    throw new RangeError("need the same number of a and b samples");
  const cutoff = quantile([...a, ...b], 1 - trim);
  const keptA: number[] = [];
  const keptB: number[] = [];
  const differences: number[] = [];
  for (let i = 0; i < a.length; i++) {
    if (Math.max(a[i]!, b[i]!) > cutoff) continue;
    keptA.push(a[i]!);
    keptB.push(b[i]!);
    differences.push(b[i]! - a[i]!);
  }
  const medianPooled = median([...keptA, ...keptB]);
  const medianDifference = median(differences);
  const relativeDifference = medianDifference / medianPooled;
  const signedRank = wilcoxonSignedRank(differences);
  const significant = signedRank.p < alpha;
  const meaningful = Math.abs(relativeDifference) > minRelativeDifference;
  return {
    pairs: a.length,
    kept: differences.length,
    medianA: median(keptA),
    medianB: median(keptB),
    medianPooled,
    medianDifference,
    relativeDifference,
    relativeInterval: bootstrapInterval(differences, (s) => median(s) / medianPooled, random),
    signedRank,
    mannWhitney: mannWhitneyU(keptA, keptB),
    significant,
    meaningful,
    differs: significant && meaningful,
  };
}
