import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffMs } from '../../../lib/util/backoff';

describe('backoffMs', () => {
  it('grows exponentially up to the cap, with jitter in the upper half', () => {
    assert.equal(
      backoffMs(1, 100, 10_000, () => 0),
      50,
    );
    assert.equal(
      backoffMs(1, 100, 10_000, () => 1),
      100,
    );
    assert.equal(
      backoffMs(4, 100, 10_000, () => 1),
      800,
    );
    assert.equal(
      backoffMs(20, 100, 10_000, () => 1),
      10_000,
    );
  });

  it('never goes below half the step nor above the step', () => {
    for (const r of [0, 0.25, 0.5, 0.999]) {
      const ms = backoffMs(3, 100, 10_000, () => r);
      assert.ok(ms >= 200 && ms <= 400, `${ms} for random ${r}`);
    }
  });

  it('treats zero or negative failures as the first step', () => {
    assert.equal(
      backoffMs(0, 100, 10_000, () => 1),
      100,
    );
    assert.equal(
      backoffMs(-3, 100, 10_000, () => 1),
      100,
    );
  });

  it('pauses at least half the maximum once the cap is reached', () => {
    assert.equal(
      backoffMs(50, 100, 10_000, () => 0),
      5_000,
    );
  });
});
