// How a 429 (the agent's per-IP connection cap) is classified, and how the pure pauses that
// follow it are spread; the config store and the lease treat it as a signal, not a storm.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { CONFIG_STORE_KEYS, ConfigStore } from '../../../lib/config/config-store';
import { ConsulRequestError, ConsulTimeoutError, isThrottled } from '../../../lib/consul/errors';
import { EnvironmentLease, type LeaseSettings } from '../../../lib/lease/environment-lease';
import { spreadMs, THROTTLED_BASE_MS, throttledBackoffMs } from '../../../lib/util/backoff';
import { drainMicrotasks } from '../helpers/deferred';
import { consulError, FakeConsul } from '../helpers/fake-consul';
import { recordingLog } from '../helpers/recording-log';

describe('isThrottled', () => {
  it('is true for a 429 only, which stays an unavailable kind for the edge', () => {
    const err = new ConsulRequestError('consul.kv.get', 'Too Many Requests', 429);
    assert.equal(isThrottled(err), true);
    assert.equal(err.kind, 'unavailable');
    for (const other of [
      new ConsulRequestError('x', 'no leader', 500),
      new ConsulRequestError('x', 'denied', 403),
      new ConsulTimeoutError('x', 'timed out'),
      new Error('429'),
    ]) {
      assert.equal(isThrottled(other), false, String(other));
    }
  });
});

describe('throttledBackoffMs and spreadMs', () => {
  it('starts a throttled backoff at THROTTLED_BASE_MS, whatever the base, with jitter in the upper half', () => {
    assert.equal(
      throttledBackoffMs(1, 100, 10_000, true, () => 0),
      THROTTLED_BASE_MS / 2,
    );
    assert.equal(
      throttledBackoffMs(1, 100, 10_000, true, () => 1),
      THROTTLED_BASE_MS,
    );
    assert.equal(
      throttledBackoffMs(3, 100, 10_000, true, () => 1),
      4 * THROTTLED_BASE_MS,
    );
    assert.equal(
      throttledBackoffMs(1, 5_000, 10_000, true, () => 1),
      5_000,
      'a longer base stays',
    );
    assert.equal(
      throttledBackoffMs(1, 100, 10_000, false, () => 1),
      100,
      'not throttled: the ordinary backoff',
    );
    assert.equal(
      throttledBackoffMs(9, 100, 200, true, () => 1),
      THROTTLED_BASE_MS,
      'a cap below the throttled base is raised to it',
    );
  });

  it('spreads uniformly over [0, max)', () => {
    assert.equal(
      spreadMs(1_000, () => 0),
      0,
    );
    assert.equal(
      spreadMs(1_000, () => 0.999),
      999,
    );
    assert.equal(
      spreadMs(0, () => 0.5),
      0,
    );
    const seen = new Set(Array.from({ length: 200 }, () => Math.floor(spreadMs(1_000) / 100)));
    assert.ok(seen.size >= 8, `200 draws cover most tenths of the range (${seen.size})`);
  });
});

const SETTINGS: LeaseSettings = { service: 'gw-lease', ttlSeconds: 30, deregisterAfterSeconds: 60 };

describe('EnvironmentLease under a 429', () => {
  function setup(t: TestContext, random: number) {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    t.mock.method(Math, 'random', () => random);
    const consul = new FakeConsul();
    const clock = { now: 1_000_000 };
    const lease = new EnvironmentLease(consul, recordingLog(), new Date(clock.now), () => clock.now);
    return { consul, clock, lease };
  }
  const touch = async (t: TestContext, lease: EnvironmentLease) => {
    const p = lease.touch(SETTINGS);
    t.mock.timers.tick(20);
    await p;
    await drainMicrotasks();
  };

  it('does not register again when a renewal is throttled, and backs off exponentially from a third of the TTL, with jitter', async (t) => {
    const { consul, clock, lease } = setup(t, 0.5);
    await lease.touch(SETTINGS);
    const throttle = () => consul.failOn('consul.agent.check.pass', consulError('consul.agent.check.pass', 429, 'Too Many Requests'), 1);
    const renewals = () => consul.callsOf('consul.agent.check.pass').length;
    clock.now += 10_000;
    throttle();
    await touch(t, lease);
    assert.equal(consul.callsOf('consul.agent.service.register').length, 1, 'a 429 is not a forgotten lease');
    assert.equal(lease.snapshot().failures, 1);
    // First step: a third of the TTL (10 s), jittered into its upper half (random 0.5: 7.5 s).
    clock.now += 7_499;
    await touch(t, lease);
    assert.equal(renewals(), 1);
    clock.now += 1;
    throttle();
    await touch(t, lease);
    assert.equal(renewals(), 2);
    // Second step doubles: 20 s, jittered to 15 s.
    clock.now += 14_999;
    await touch(t, lease);
    assert.equal(renewals(), 2);
    clock.now += 1;
    await touch(t, lease);
    assert.equal(renewals(), 3);
    assert.equal(lease.snapshot().failures, 0);
    // Back to the ordinary rhythm after a success.
    clock.now += 9_999;
    await touch(t, lease);
    assert.equal(renewals(), 3);
    clock.now += 1;
    await touch(t, lease);
    assert.equal(renewals(), 4);
  });

  it('backs off the same way when the agent does not answer in time (overloaded), but not when it refuses connections', async (t) => {
    const { consul, clock, lease } = setup(t, 0.5);
    await lease.touch(SETTINGS);
    const renewals = () => consul.callsOf('consul.agent.check.pass').length;
    clock.now += 10_000;
    consul.failOn('consul.agent.check.pass', new ConsulTimeoutError('consul.agent.check.pass', 'timed out after 1000 ms'), 2);
    await touch(t, lease);
    clock.now += 7_500;
    await touch(t, lease);
    clock.now += 14_999;
    await touch(t, lease);
    assert.equal(renewals(), 2, 'the second timeout doubled the pause');
    consul.failOn('consul.agent.check.pass', consulError('consul.agent.check.pass', undefined, 'connect ECONNREFUSED'), 1);
    clock.now += 1;
    await touch(t, lease);
    assert.equal(renewals(), 3);
    clock.now += 10_000;
    await touch(t, lease);
    assert.equal(renewals(), 4, 'a refused connection keeps the third-of-TTL rhythm');
  });

  it('registers again only when the agent answered that it does not know the check', async (t) => {
    const { consul, clock, lease } = setup(t, 0.5);
    await lease.touch(SETTINGS);
    const registrations = () => consul.callsOf('consul.agent.service.register').length;
    // A slow or overloaded agent: registering would be a heavier write on top, so no.
    for (const err of [
      new ConsulTimeoutError('consul.agent.check.pass', 'timed out after 1000 ms'),
      consulError('consul.agent.check.pass', 500, 'rpc error'),
      consulError('consul.agent.check.pass', undefined, 'socket hang up'),
    ]) {
      clock.now += 10_000;
      consul.failOn('consul.agent.check.pass', err, 1);
      const before = consul.callsOf('consul.agent.check.pass').length;
      await touch(t, lease);
      assert.equal(consul.callsOf('consul.agent.check.pass').length, before + 1, 'the renewal went out');
      assert.equal(registrations(), 1, String(err));
    }
    clock.now += 10_000;
    consul.failOn('consul.agent.check.pass', consulError('consul.agent.check.pass', 404, 'Unknown check ID "service:x"'), 1);
    await touch(t, lease);
    assert.equal(registrations(), 2, 'a 404 means the agent forgot the lease');
    assert.equal(lease.snapshot().reRegistrations, 1);
  });
});

describe('ConfigStore under a 429', () => {
  const PREFIX = 'config/test-fn/local/';
  it('keeps its config through throttled refreshes, backing off from one max age with jitter, doubling per 429', async (t) => {
    t.mock.method(Math, 'random', () => 0.5);
    const consul = new FakeConsul();
    consul.putKv(`${PREFIX}configMaxAgeSeconds`, '10');
    const clock = { now: 1_000_000 };
    const store = new ConfigStore(consul, PREFIX, CONFIG_STORE_KEYS, recordingLog(), {}, () => clock.now);
    await store.get();
    const reads = () => consul.operations(/^consul\.kv\.get/).length;
    /** Moves the clock by `ms`, invokes, and says whether a refresh went out. */
    const refreshedAfter = async (ms: number) => {
      const before = reads();
      clock.now += ms;
      await store.get();
      await store.settled();
      return reads() > before;
    };
    assert.equal(await refreshedAfter(9_999), false);
    consul.failOn(/^consul\.kv\.get/, consulError('consul.kv.get', 429, 'Too Many Requests'));
    assert.equal(await refreshedAfter(1), true, 'due after one max age; refused');
    assert.equal(store.current()?.values.configMaxAgeSeconds, 10, 'the loaded config is kept');
    // random 0.5: each step is 3/4 of 10 s · 2^(n-1): 7.5 s, then 15 s, then 30 s.
    for (const step of [7_500, 15_000]) {
      assert.equal(await refreshedAfter(step - 1), false, `not before ${step} ms`);
      assert.equal(await refreshedAfter(1), true, `tried again after ${step} ms`);
    }
    consul.heal();
    assert.equal(await refreshedAfter(29_999), false);
    assert.equal(await refreshedAfter(1), true, 'after 30 s, and this one answers');
    assert.equal(await refreshedAfter(9_999), false, 'then back to one max age');
    assert.equal(await refreshedAfter(1), true);
  });
});
