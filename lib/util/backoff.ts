/** Exponential backoff with jitter, and a random spread, shared by every retry loop in the project. */

/** Pause after `failures` consecutive failures: half the capped exponential step plus a random half. */
export function backoffMs(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * Least first step after a Consul 429 (the agent's per-IP connection cap): a throttled fleet
 * must not come back within the same second, so its backoff starts from here even when the
 * caller's own base is shorter.
 */
export const THROTTLED_BASE_MS = 1_000;

/** Pause after `failures` consecutive failures, the last one a 429 when `throttled`: backoffMs from at least THROTTLED_BASE_MS. */
export function throttledBackoffMs(
  failures: number,
  baseMs: number,
  maxMs: number,
  throttled: boolean,
  random: () => number = Math.random,
): number {
  return backoffMs(
    failures,
    throttled ? Math.max(baseMs, THROTTLED_BASE_MS) : baseMs,
    Math.max(maxMs, throttled ? THROTTLED_BASE_MS : 0),
    random,
  );
}

/** A random delay in [0, maxMs): spreads requests that a fleet of environments would otherwise send in the same instant. */
export function spreadMs(maxMs: number, random: () => number = Math.random): number {
  return maxMs > 0 ? Math.floor(random() * maxMs) : 0;
}
