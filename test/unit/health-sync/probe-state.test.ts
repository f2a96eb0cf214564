import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { INITIAL_PROBE_STATE, nextProbeState, parseProbeState, type ProbeState } from '../../../lib/health-sync/probe-state';

const t = { failuresBeforeCritical: 3, successesBeforePassing: 2 };
const run = (start: ProbeState, results: boolean[]) => results.reduce((s, ok) => nextProbeState(s, ok, t), start);
const passing: ProbeState = { status: 'passing', consecutiveFailures: 0, consecutiveSuccesses: 5 };

describe('nextProbeState (anti-flap)', () => {
  it('turns critical only after N consecutive failures', () => {
    assert.equal(run(passing, [false, false]).status, 'passing');
    assert.equal(run(passing, [false, false, false]).status, 'critical');
  });
  it('does not count failures that are not consecutive (unlike consul-esm)', () => {
    assert.equal(run(passing, [false, false, true, false, false, true, false]).status, 'passing');
  });
  it('turns passing only after M consecutive successes', () => {
    assert.equal(run(INITIAL_PROBE_STATE, [true]).status, 'critical');
    assert.equal(run(INITIAL_PROBE_STATE, [true, true]).status, 'passing');
    assert.equal(run(INITIAL_PROBE_STATE, [true, false, true]).status, 'critical');
  });
});

describe('parseProbeState', () => {
  it('round-trips a stored state and starts over on garbage', () => {
    assert.deepEqual(parseProbeState(JSON.stringify(passing)), passing);
    assert.deepEqual(parseProbeState('{"status":"weird"}'), INITIAL_PROBE_STATE);
    assert.deepEqual(parseProbeState('not json'), INITIAL_PROBE_STATE);
    assert.deepEqual(parseProbeState(undefined), INITIAL_PROBE_STATE);
  });
});
