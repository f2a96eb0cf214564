import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { percentile, summarize } from '../../../scripts/support/percentiles';

describe('percentiles (nearest rank)', () => {
  it('answers a measured sample: p50 of 1..10 is 5, p90 is 9, p100 is 10', () => {
    const xs = [10, 3, 1, 7, 2, 9, 4, 8, 6, 5];
    assert.equal(percentile(xs, 50), 5);
    assert.equal(percentile(xs, 90), 9);
    assert.equal(percentile(xs, 100), 10);
    assert.equal(percentile(xs, 1), 1);
  });
  it('has no percentile of nothing, and refuses p outside (0, 100]', () => {
    assert.equal(percentile([], 50), undefined);
    assert.equal(summarize([]), undefined);
    assert.throws(() => percentile([1], 0), RangeError);
    assert.throws(() => percentile([1], 101), RangeError);
  });
  it('summarises count, percentiles, mean and max', () => {
    assert.deepEqual(summarize([4, 1, 3, 2]), { n: 4, p50: 2, p90: 4, p99: 4, mean: 2.5, max: 4 });
  });
});
