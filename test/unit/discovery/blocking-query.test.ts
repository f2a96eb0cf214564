import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { delayAfterSuccess, isPollStale, nextIndex, pollTimeoutMs } from '../../../lib/discovery/blocking-query';

describe('nextIndex', () => {
  it('keeps a growing index', () => assert.equal(nextIndex('10', '12'), '12'));
  it('keeps an unchanged index', () => assert.equal(nextIndex('12', '12'), '12'));
  it('resets when the index goes backwards', () => assert.equal(nextIndex('12', '3'), undefined));
  it('resets on index 0 or garbage', () => {
    assert.equal(nextIndex('12', '0'), undefined);
    assert.equal(nextIndex(undefined, 'abc'), undefined);
  });
  it('handles indexes beyond Number.MAX_SAFE_INTEGER', () =>
    assert.equal(nextIndex('9007199254740993', '9007199254740995'), '9007199254740995'));
});

describe('poll timing', () => {
  it('allows wait plus wait/16 plus slack', () => assert.equal(pollTimeoutMs(32, 1000), 32_000 + 2_000 + 1_000));
  it('pauses only for the rest of the minimum interval', () => {
    assert.equal(delayAfterSuccess(100, 500), 400);
    assert.equal(delayAfterSuccess(900, 500), 0);
  });
  it('calls a poll stale only after it outlived any Consul answer', () => {
    assert.equal(isPollStale(undefined, 1e9, 30), false);
    assert.equal(isPollStale(0, pollTimeoutMs(30), 30), false);
    assert.equal(isPollStale(0, pollTimeoutMs(30) + 1, 30), true);
  });
});
