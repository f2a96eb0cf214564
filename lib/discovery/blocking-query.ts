/**
 * Pure rules for Consul blocking queries, following Consul's documentation on
 * them: reset an index that goes backwards, never block on index 0 forever,
 * rate-limit loops that return at once. Backoff after errors is lib/util/backoff.
 */

/** The index to send next, given the one we sent and the one Consul returned. */
export function nextIndex(previous: string | undefined, returned: string): string | undefined {
  const prev = toBigInt(previous);
  const got = toBigInt(returned);
  // An index of 0 or below is invalid; a smaller index means Consul's state was
  // reset (snapshot restore, a new leader that lags): start over without one.
  if (got === undefined || got <= 0n) return undefined;
  if (prev !== undefined && got < prev) return undefined;
  return got.toString();
}

function toBigInt(v: string | undefined): bigint | undefined {
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return BigInt(v);
}

/** Longest a blocking query can take: `wait` plus Consul's up-to-wait/16 jitter plus slack. */
export function pollTimeoutMs(waitSeconds: number, slackMs = 2_000): number {
  return Math.ceil(waitSeconds * 1000 * (1 + 1 / 16)) + slackMs;
}

/** Delay before the next poll after a success, so a flapping index cannot spin the loop. */
export function delayAfterSuccess(elapsedMs: number, minIntervalMs: number): number {
  return Math.max(0, minIntervalMs - elapsedMs);
}

/**
 * True when a poll that started at `startedAt` has outlived any answer Consul
 * could give; after a Lambda freeze its socket may be silently dead.
 */
export function isPollStale(startedAt: number | undefined, now: number, waitSeconds: number): boolean {
  return startedAt !== undefined && now - startedAt > pollTimeoutMs(waitSeconds);
}
