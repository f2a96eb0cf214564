import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LatencyWindow } from '../../../lib/grpc/latency-window';

describe('LatencyWindow', () => {
  it('has no quantile while empty', () => {
    const w = new LatencyWindow();
    assert.equal(w.count, 0);
    assert.equal(w.quantile(0.95), undefined);
  });

  it('gives the nearest-rank quantile of the samples held', () => {
    const w = new LatencyWindow();
    for (let ms = 100; ms >= 1; ms--) w.record(ms);
    assert.equal(w.count, 100);
    assert.equal(w.quantile(0.95), 95);
    assert.equal(w.quantile(0.5), 50);
    assert.equal(w.quantile(0), 1);
    assert.equal(w.quantile(1), 100);
  });

  it('keeps only the latest `size` samples, replacing the oldest first', () => {
    const w = new LatencyWindow(3);
    for (const ms of [500, 1, 2, 3]) w.record(ms);
    assert.equal(w.count, 3);
    assert.equal(w.quantile(1), 3, 'the 500 ms sample is gone');
    w.record(4);
    assert.equal(w.quantile(0), 2, 'then the 1 ms one');
  });

  it('ignores negative and non-finite latencies', () => {
    const w = new LatencyWindow();
    for (const ms of [-1, Number.NaN, Number.POSITIVE_INFINITY]) w.record(ms);
    w.record(0);
    assert.equal(w.count, 1);
    assert.equal(w.quantile(0.95), 0);
  });
});
