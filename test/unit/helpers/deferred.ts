/** Test helpers for explicit hand-offs between a test and the code under test (no sleeps). */
import assert from 'node:assert/strict';

/** A promise with its resolve and reject exposed. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

/** A promise the test settles by hand. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Lets every promise continuation already queued run (one turn of the event
 * loop: all microtasks drain before the check phase). Not a time barrier; only
 * used to assert that something has NOT happened yet. setImmediate is never
 * faked by these tests' mock.timers.
 */
export function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * On mocked timers (`t.mock.timers`, already enabled), asserts a bound to the millisecond: `settled()` is
 * still false `ms - 1` ms from now and true one millisecond later.
 */
export async function assertSettlesAfter(
  timers: { tick(ms: number): void },
  ms: number,
  settled: () => boolean,
  what: string,
): Promise<void> {
  timers.tick(ms - 1);
  await drainMicrotasks();
  assert.equal(settled(), false, `${what}: not before ${ms} ms`);
  timers.tick(1);
  await drainMicrotasks();
  assert.equal(settled(), true, `${what}: after ${ms} ms`);
}
