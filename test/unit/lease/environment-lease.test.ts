// The lease's clock is injected; the 15 ms hold of a warm renewal runs on
// mock.timers, so no test waits for real time.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { LeaseSettings } from '../../../lib/lease/environment-lease';
import { assertSettlesAfter, drainMicrotasks } from '../helpers/deferred';
import { consulError, FakeConsul } from '../helpers/fake-consul';
import { COLD_START, leaseFixture, T0 } from '../helpers/lease-fixture';

const SETTINGS: LeaseSettings = { service: 'gw-lease', ttlSeconds: 30, deregisterAfterSeconds: 60 };
const iso = (t: number) => new Date(t).toISOString();
const setup = (t: TestContext) => leaseFixture(t, new FakeConsul());

const renewals = (consul: FakeConsul) => consul.callsOf('consul.agent.check.pass').length;
const registrations = (consul: FakeConsul) => consul.callsOf('consul.agent.service.register').length;

describe('EnvironmentLease', () => {
  it('registers the environment on the first touch, with a TTL check, and waits for it', async (t) => {
    const { consul, lease } = setup(t);
    await lease.touch(SETTINGS);
    const snap = lease.snapshot();
    assert.match(snap.id ?? '', /^gw-lease-[0-9a-f]{16}$/);
    assert.deepEqual(
      { ...snap, id: undefined },
      {
        id: undefined,
        registered: true,
        lastRenewedAt: iso(T0),
        lastAttemptAt: iso(T0),
        lastError: undefined,
        failures: 0,
        reRegistrations: 0,
        renewals: 1,
        failedAttempts: 0,
      },
    );
    const svc = consul.services.get(snap.id ?? '');
    assert.equal(svc?.service, 'gw-lease');
    assert.deepEqual(svc?.tags, ['lambda', 'lease']);
    assert.equal(svc?.meta.cold_start_at, COLD_START.toISOString());
    assert.equal(svc?.status, 'passing');
    assert.deepEqual({ ttl: svc?.check?.ttl, after: svc?.check?.deregistercriticalserviceafter }, { ttl: '30s', after: '60s' });
    assert.deepEqual(
      consul.calls.map((c) => [c.operation, c.options.timeoutMs]),
      [['consul.agent.service.register', 1_000]],
    );
  });

  it('holds the cold-start invocation until its registration is done', async (t) => {
    const { consul, lease } = setup(t);
    const gate = consul.hold('consul.agent.service.register');
    let done = false;
    const touching = lease.touch(SETTINGS).then(() => (done = true));
    t.mock.timers.tick(1_000);
    await drainMicrotasks();
    assert.equal(done, false);
    gate.resolve();
    await drainMicrotasks();
    assert.equal(done, true);
    await touching;
    assert.equal(lease.snapshot().registered, true);
  });

  it('renews at most once per third of the TTL, keeping the same id', async (t) => {
    const { consul, clock, lease } = setup(t);
    await lease.touch(SETTINGS);
    const id = lease.snapshot().id;
    clock.now = T0 + 9_999;
    await lease.touch(SETTINGS);
    assert.equal(renewals(consul), 0);
    clock.now = T0 + 10_000;
    await lease.touch(SETTINGS);
    assert.equal(renewals(consul), 1);
    assert.deepEqual(consul.callsOf('consul.agent.check.pass')[0]?.args, { id: `service:${id}`, note: 'renewed by an invocation' });
    clock.now = T0 + 19_999;
    await lease.touch(SETTINGS);
    assert.equal(renewals(consul), 1);
    clock.now = T0 + 20_000;
    await lease.touch(SETTINGS);
    assert.equal(renewals(consul), 2);
    assert.equal(registrations(consul), 1);
    assert.equal(lease.snapshot().id, id);
    assert.equal(lease.snapshot().lastRenewedAt, iso(T0 + 20_000));
  });

  it('needsTouch says, without sending anything, whether a touch would send: the first registration, a due renewal not under way', async (t) => {
    const { consul, clock, lease } = setup(t);
    assert.equal(lease.needsTouch(SETTINGS), true, 'never registered');
    await lease.touch(SETTINGS);
    clock.now = T0 + 9_999;
    assert.equal(lease.needsTouch(SETTINGS), false, 'renewal not due');
    clock.now = T0 + 10_000;
    assert.equal(lease.needsTouch(SETTINGS), true, 'renewal due');
    const gate = consul.hold('consul.agent.check.pass');
    void lease.touch(SETTINGS);
    assert.equal(lease.needsTouch(SETTINGS), false, 'renewal under way');
    gate.resolve();
    await drainMicrotasks();
    assert.equal(lease.needsTouch(SETTINGS), false, 'renewed just now');
    assert.equal(renewals(consul), 1);
    assert.equal(registrations(consul), 1, 'asking sent nothing');
  });

  it('holds a warm invocation at most 15 ms for a renewal, and starts no second one meanwhile', async (t) => {
    const { consul, clock, lease } = setup(t);
    await lease.touch(SETTINGS);
    clock.now = T0 + 10_000;
    const gate = consul.hold('consul.agent.check.pass');
    let done = false;
    void lease.touch(SETTINGS).then(() => (done = true));
    await assertSettlesAfter(
      t.mock.timers,
      15,
      () => done,
      'released while the renewal is still out, after the request got a moment to go out',
    );
    clock.now = T0 + 20_000;
    await lease.touch(SETTINGS);
    assert.equal(renewals(consul), 1, 'a renewal in flight is not doubled');
    assert.equal(lease.snapshot().lastRenewedAt, iso(T0), 'not renewed until Consul answered');
    gate.resolve();
    await drainMicrotasks();
    assert.equal(lease.snapshot().lastRenewedAt, iso(T0 + 20_000), 'stamped when the answer came');
  });

  it('registers again when the agent forgot the lease, and counts that re-registration', async (t) => {
    const { consul, clock, log, lease } = setup(t);
    await lease.touch(SETTINGS);
    const id = lease.snapshot().id ?? '';
    consul.services.delete(id); // the agent restarted, or removed the lease while frozen
    clock.now = T0 + 10_000;
    await lease.touch(SETTINGS);
    assert.equal(consul.services.get(id)?.status, 'passing');
    const snap = lease.snapshot();
    assert.deepEqual(
      { reRegistrations: snap.reRegistrations, failures: snap.failures, lastError: snap.lastError, lastRenewedAt: snap.lastRenewedAt },
      { reRegistrations: 1, failures: 0, lastError: undefined, lastRenewedAt: iso(T0 + 10_000) },
    );
    assert.deepEqual(log.messages('info'), ['lease renewal failed; registering again']);
    assert.deepEqual(consul.operations(), ['consul.agent.service.register', 'consul.agent.check.pass', 'consul.agent.service.register']);
  });

  // Regression: /status showed a fresh lastRenewedAt and growing reRegistrations while Consul was down.
  it('during an outage keeps lastRenewedAt at the last success, moves lastAttemptAt, counts failures and no re-registration', async (t) => {
    const { consul, clock, log, lease } = setup(t);
    await lease.touch(SETTINGS);
    consul.failOn(/^consul\./, () => consulError('consul.agent', undefined, 'connect ECONNREFUSED 127.0.0.1:8500'));
    for (const [i, at] of [T0 + 10_000, T0 + 20_000, T0 + 30_000].entries()) {
      clock.now = at;
      await lease.touch(SETTINGS);
      const snap = lease.snapshot();
      assert.equal(snap.lastRenewedAt, iso(T0));
      assert.equal(snap.lastAttemptAt, iso(at));
      assert.equal(snap.failures, i + 1);
      assert.equal(snap.reRegistrations, 0);
      assert.match(snap.lastError ?? '', /ECONNREFUSED/);
      assert.equal(snap.registered, true, 'still registered as far as we know');
    }
    clock.now = T0 + 35_000;
    await lease.touch(SETTINGS);
    assert.equal(lease.snapshot().lastAttemptAt, iso(T0 + 30_000), 'an outage costs one try per TTL/3, not one per invocation');
    assert.equal(log.messages('warn').length, 1, 'the first failure of a streak is logged, not every one');
    consul.heal();
    clock.now = T0 + 40_000;
    await lease.touch(SETTINGS);
    const snap = lease.snapshot();
    assert.deepEqual(
      { failures: snap.failures, lastError: snap.lastError, lastRenewedAt: snap.lastRenewedAt, reRegistrations: snap.reRegistrations },
      { failures: 0, lastError: undefined, lastRenewedAt: iso(T0 + 40_000), reRegistrations: 0 },
    );
  });

  it('retries a failed first registration on a later touch, as a registration rather than a re-registration', async (t) => {
    const { consul, clock, lease } = setup(t);
    consul.failOn('consul.agent.service.register', consulError('consul.agent.service.register', 500, 'agent not ready'), 1);
    await lease.touch(SETTINGS);
    assert.deepEqual(
      { registered: lease.snapshot().registered, failures: lease.snapshot().failures, lastRenewedAt: lease.snapshot().lastRenewedAt },
      { registered: false, failures: 1, lastRenewedAt: undefined },
    );
    clock.now = T0 + 10_000;
    await lease.touch(SETTINGS);
    assert.deepEqual(consul.operations(), ['consul.agent.service.register', 'consul.agent.service.register']);
    assert.deepEqual(
      { registered: lease.snapshot().registered, failures: lease.snapshot().failures, reRegistrations: lease.snapshot().reRegistrations },
      { registered: true, failures: 0, reRegistrations: 0 },
    );
  });

  it('deregisters on release, within the given time', async (t) => {
    const { consul, lease } = setup(t);
    await lease.touch(SETTINGS);
    const id = lease.snapshot().id ?? '';
    await lease.release(250);
    assert.deepEqual(
      consul.callsOf('consul.agent.service.deregister').map((c) => [c.args.id, c.options.timeoutMs]),
      [[id, 250]],
    );
    assert.equal(consul.services.has(id), false);
    assert.equal(lease.snapshot().registered, false);
  });

  it('makes no call on release when it never registered', async (t) => {
    const { consul, lease } = setup(t);
    await lease.release(250);
    consul.failOn('consul.agent.service.register', consulError('consul.agent.service.register', 500), 1);
    await lease.touch(SETTINGS);
    await lease.release(250);
    assert.equal(consul.callsOf('consul.agent.service.deregister').length, 0);
  });
});
