/** Pure deadline arithmetic for a call made inside a Lambda invocation. */

/**
 * Milliseconds the call may take: the configured deadline, cut to the
 * Lambda's remaining time minus a margin to shape the response. Never negative.
 */
export function callBudgetMs(configuredMs: number, remainingMs: number | undefined, marginMs: number): number {
  const fromLambda = remainingMs === undefined ? Number.POSITIVE_INFINITY : remainingMs - marginMs;
  return Math.max(0, Math.min(configuredMs, fromLambda));
}
