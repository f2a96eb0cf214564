/**
 * The one definition of a percentile in this project (benches, chaos runs, tests): the
 * nearest-rank method. The p-th percentile of n sorted samples is the sample at rank
 * ceil(p/100 · n), so it is always a value that was measured, p100 is the maximum and p50 of an
 * even count is the lower middle. An empty set has no percentiles: `undefined`, never NaN.
 */

/** The nearest-rank percentile `p` (0 < p ≤ 100) of `samples`; `undefined` when there are none. */
export function percentile(samples: readonly number[], p: number): number | undefined {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile ${p} is outside (0, 100]`);
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1];
}

/** Count, p50, p90, p99, mean and max of `samples`, or `undefined` for an empty set. */
export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  max: number;
}

/** Summarises `samples` with the nearest-rank percentiles; `undefined` when there are none. */
export function summarize(samples: readonly number[]): Summary | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.ceil((p / 100) * sorted.length) - 1]!;
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { n: sorted.length, p50: at(50), p90: at(90), p99: at(99), mean, max: sorted[sorted.length - 1]! };
}
