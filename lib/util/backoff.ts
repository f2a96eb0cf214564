/** Exponential backoff with full jitter, shared by every retry loop in the project. */

/** Pause after `failures` consecutive failures: half the capped exponential step plus a random half. */
export function backoffMs(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
