/** A small concurrency limiter: enough for read and apply, without a dependency. */

/** Calls `fn` for every item with at most `concurrency` calls in flight; `fn` must not throw. */
export async function forEachBounded<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      await fn(item);
    }
  };
  const width = Math.max(1, Math.min(Math.floor(concurrency) || 1, items.length));
  await Promise.all(Array.from({ length: width }, worker));
}

/** Maps every item with bounded concurrency; after all settle, rethrows the first failure. */
export async function mapBounded<T, R>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  const failures: unknown[] = [];
  const indexed = items.map((item, i) => ({ item, i }));
  await forEachBounded(indexed, concurrency, async ({ item, i }) => {
    // Once one read failed the result is thrown away, so do not start more calls.
    if (failures.length > 0) return;
    try {
      results[i] = await fn(item);
    } catch (err) {
      failures.push(err);
    }
  });
  if (failures.length > 0) throw failures[0];
  return results;
}
