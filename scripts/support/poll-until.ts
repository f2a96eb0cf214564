/**
 * Waiting on a condition, the one way the stack, the tests and the benches wait: poll at a short
 * interval until the condition holds or a deadline passes. Never a fixed sleep that hopes the
 * condition holds by then (the machine may be busy).
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Options of a poll: how long to wait in all and how often to look. */
export interface PollOptions {
  timeoutMs: number;
  intervalMs?: number;
  signal?: AbortSignal;
}

/** Calls `probe` until it returns a value other than `undefined`; rejects with `what` in the message after `timeoutMs`. */
export async function pollUntil<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, options: PollOptions): Promise<T> {
  const until = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 100;
  let lastError: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      // A probe that throws (a port not yet open, a 503 while starting) is "not yet".
      lastError = err;
    }
    if (Date.now() >= until) break;
    await sleep(interval, undefined, { signal: options.signal });
  }
  const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${cause}`);
}

/** Resolves once `check` returns true; rejects naming `what` after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  await pollUntil(async () => ((await check()) ? true : undefined), what, { timeoutMs });
}
