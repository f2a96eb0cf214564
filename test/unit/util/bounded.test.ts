import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forEachBounded, mapBounded } from '../../../lib/util/bounded';
import { deferred, drainMicrotasks, type Deferred } from '../helpers/deferred';

/** A task per item that finishes only when the test says so. */
function heldTasks() {
  const started: { item: number; done: Deferred<void> }[] = [];
  let inFlight = 0;
  let peak = 0;
  const fn = async (item: number) => {
    peak = Math.max(peak, ++inFlight);
    const done = deferred();
    started.push({ item, done });
    await done.promise;
    inFlight--;
  };
  return { fn, started, peak: () => peak };
}

describe('forEachBounded', () => {
  it('keeps at most `concurrency` calls in flight and starts the next when one finishes', async () => {
    const t = heldTasks();
    const all = forEachBounded([1, 2, 3, 4, 5], 2, t.fn);
    await drainMicrotasks();
    assert.deepEqual(
      t.started.map((s) => s.item),
      [1, 2],
    );
    t.started[0]?.done.resolve();
    await drainMicrotasks();
    assert.deepEqual(
      t.started.map((s) => s.item),
      [1, 2, 3],
    );
    for (let i = 0; i < 5; i++) {
      t.started[i]?.done.resolve();
      await drainMicrotasks();
    }
    assert.equal(t.started.length, 5);
    await all;
    assert.equal(t.peak(), 2);
  });

  it('runs one at a time for a concurrency of 0 or NaN, and finishes an empty list at once', async () => {
    const seen: number[] = [];
    await forEachBounded([1, 2, 3], 0, async (i) => void seen.push(i));
    await forEachBounded([4], Number.NaN, async (i) => void seen.push(i));
    await forEachBounded([], 4, async () => assert.fail('no item, no call'));
    assert.deepEqual(seen, [1, 2, 3, 4]);
  });
});

describe('mapBounded', () => {
  it('returns the results in input order whatever order they finish in', async () => {
    const gates = [deferred(), deferred(), deferred()];
    const out = mapBounded([0, 1, 2], 3, async (i) => {
      await gates[i]?.promise;
      return i * 10;
    });
    gates[2]?.resolve();
    gates[0]?.resolve();
    gates[1]?.resolve();
    assert.deepEqual(await out, [0, 10, 20]);
  });

  it('rethrows the first failure after the calls in flight settle, and starts no new call', async () => {
    const started: number[] = [];
    const err = new Error('boom');
    await assert.rejects(
      mapBounded([1, 2, 3, 4], 1, async (i) => {
        started.push(i);
        if (i === 2) throw err;
        return i;
      }),
      (e: unknown) => e === err,
    );
    assert.deepEqual(started, [1, 2]);
  });
});
