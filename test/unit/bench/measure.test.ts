import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { round, stats, throughput } from '../../../bench/measure';

describe('stats', () => {
  it('gives nearest-rank percentiles and the mean, whatever the order of the samples', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.deepEqual(stats(samples), { n: 100, p50: 51, p90: 91, p99: 100, mean: 50.5 });
    assert.equal(samples[0], 100, 'the samples are not sorted in place');
  });
});

describe('throughput', () => {
  it('makes exactly `total` calls with never more than `inFlight` outstanding', async () => {
    let outstanding = 0;
    let most = 0;
    let calls = 0;
    const rate = await throughput(
      async () => {
        calls++;
        most = Math.max(most, ++outstanding);
        await new Promise((r) => setImmediate(r));
        outstanding--;
      },
      100,
      16,
    );
    assert.equal(calls, 100);
    assert.equal(most, 16);
    assert.ok(rate > 0 && Number.isFinite(rate));
  });
});

describe('round', () => {
  it('rounds to the digits asked for', () => {
    assert.equal(round(1.23456), 1.235);
    assert.equal(round(1.23456, 1), 1.2);
  });
});
