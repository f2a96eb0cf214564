/**
 * Waiting on a condition, the one way the stack, the tests and the benches wait: poll at a short
 * interval until the condition holds or a deadline passes. Never a fixed sleep that hopes the
 * condition holds by then (the machine may be busy).
 */
import type { ChildProcess } from 'node:child_process';
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
    await sleep(interval, undefined, { signal: options.signal }).catch((err: unknown) => {
      // The abort's own reason (why the wait ends) says more than the timer's AbortError.
      options.signal?.throwIfAborted();
      throw err;
    });
  }
  const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${cause}`);
}

/** Resolves once `check` returns true; rejects naming `what` after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  await pollUntil(async () => ((await check()) ? true : undefined), what, { timeoutMs });
}

/** What pollWhileRunning watches: a child process and, for the error, its output lines so far. */
export interface RunningProcess {
  name: string;
  child: ChildProcess;
  output?: readonly string[];
}

/**
 * `pollUntil` for a server that is starting: the probe's "not yet" is retried, but the child exiting
 * ends the wait at once (a crashed server never becomes ready), and either failure carries its last
 * output lines.
 */
export async function pollWhileRunning<T>(
  proc: RunningProcess,
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  options: PollOptions,
): Promise<T> {
  const tail = () => (proc.output?.length ? `:\n${proc.output.slice(-20).join('\n')}` : '');
  const gone = new AbortController();
  const onExit = () => {
    const how = proc.child.signalCode ?? proc.child.exitCode;
    gone.abort(new Error(`${proc.name} exited (${how}) before ${what}${tail()}`));
  };
  proc.child.once('exit', onExit);
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) onExit();
  const abort = options.signal ? AbortSignal.any([options.signal, gone.signal]) : gone.signal;
  try {
    return await pollUntil(probe, what, { ...options, signal: abort });
  } catch (err) {
    if (gone.signal.aborted || options.signal?.aborted) throw err;
    throw new Error(`${err instanceof Error ? err.message : String(err)}${tail()}`, { cause: err });
  } finally {
    proc.child.off('exit', onExit);
  }
}
