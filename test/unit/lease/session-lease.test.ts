// The session mode of the environment lease on a fake Consul: the session endpoints
// are served by a subclass of FakeConsul (through its call(), so holds and failures
// apply), the K/V acquire by FakeConsul itself. The clock is injected.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { CallOptions, RawEndpointRequest } from '../../../lib/consul/consul-api';
import type { LeaseSettings } from '../../../lib/lease/environment-lease';
import { leaseKeys, leaseSettingsFrom } from '../../../lib/lease/lease-config';
import { SessionLeaseStore, sessionLeaseKey } from '../../../lib/lease/session-lease-store';
import { assertSettlesAfter } from '../helpers/deferred';
import { consulError, FakeConsul } from '../helpers/fake-consul';
import { COLD_START, leaseFixture, T0 } from '../helpers/lease-fixture';
import { recordingLog } from '../helpers/recording-log';

/** FakeConsul plus Consul's session endpoints, which the lease calls by path. */
class SessionConsul extends FakeConsul {
  readonly created: Record<string, unknown>[] = [];
  readonly paths: string[] = [];
  private n = 0;

  override request(operation: string, opts: CallOptions = {}, req?: RawEndpointRequest): Promise<unknown> {
    return this.call(operation, opts, async () => {
      const path = req?.path ?? '';
      this.paths.push(`${req?.method} ${path}`);
      if (path === '/session/create') {
        const id = `0000-session-${++this.n}`;
        this.sessions.add(id);
        this.created.push(req?.body as Record<string, unknown>);
        return { ID: id };
      }
      const [, verb, id = ''] = /^\/session\/(renew|destroy)\/(.+)$/.exec(path) ?? [];
      if (verb === 'renew') {
        if (!this.sessions.has(id)) throw consulError(operation, 404, `Session id '${id}' not found`);
        return [{ ID: id }];
      }
      if (verb === 'destroy') {
        this.end(id);
        return true;
      }
      throw new Error(`unexpected ${path}`);
    });
  }

  /** Ends a session as Consul does when its TTL lapses: its keys go with it (Behavior = delete). */
  end(id: string): void {
    this.sessions.delete(id);
    for (const [k, e] of this.kv) if (e.session === id) this.kv.delete(k);
  }
}

const SETTINGS: LeaseSettings = {
  service: 'gw-lease',
  ttlSeconds: 30,
  deregisterAfterSeconds: 60,
  mode: 'session',
  prefix: 'lambda-leases',
};
const setup = (t: TestContext) => leaseFixture(t, new SessionConsul());
const count = (consul: SessionConsul, prefix: string) => consul.paths.filter((p) => p.startsWith(prefix)).length;

describe('EnvironmentLease in session mode', () => {
  it('creates a TTL session bound to no check and acquires the environment key with it, within the cold-start bound', async (t) => {
    const { consul, lease } = setup(t);
    await lease.touch(SETTINGS);
    const snap = lease.snapshot();
    const key = sessionLeaseKey('lambda-leases', 'gw-lease', snap.id ?? '');
    assert.equal(snap.key, key);
    assert.equal(snap.mode, 'session');
    assert.equal(snap.registered, true);
    assert.deepEqual(consul.created, [
      { Name: `lease ${snap.id}`, TTL: '30s', Behavior: 'delete', LockDelay: '0s', NodeChecks: [], ServiceChecks: [] },
    ]);
    const held = consul.kv.get(key);
    assert.equal(held?.session, snap.sessionId);
    const value = JSON.parse(held?.value ?? '{}') as { id: string; service: string; meta: Record<string, string> };
    assert.deepEqual(
      { id: value.id, service: value.service, coldStartAt: value.meta.cold_start_at },
      { id: snap.id, service: 'gw-lease', coldStartAt: COLD_START.toISOString() },
    );
    assert.equal(consul.services.size, 0, 'no agent service in session mode');
    for (const c of consul.calls)
      assert.ok((c.options.timeoutMs ?? Infinity) <= 1_000, `${c.operation} bounded by the registration budget`);
  });

  it("raises a TTL below Consul's session minimum to 10 s", async (t) => {
    const { consul, lease } = setup(t);
    await lease.touch({ ...SETTINGS, ttlSeconds: 3 });
    assert.equal(consul.created[0]?.TTL, '10s');
  });

  it('renews the same session once per third of the TTL, writing nothing else', async (t) => {
    const { consul, clock, lease } = setup(t);
    await lease.touch(SETTINGS);
    const sessionId = lease.snapshot().sessionId;
    for (const [at, renewals] of [
      [T0 + 9_999, 0],
      [T0 + 10_000, 1],
      [T0 + 19_999, 1],
      [T0 + 20_000, 2],
    ] as const) {
      clock.now = at;
      await lease.touch(SETTINGS);
      assert.equal(count(consul, 'PUT /session/renew/'), renewals, `renewals at +${at - T0} ms`);
    }
    assert.deepEqual(
      consul.paths.filter((p) => p.includes('renew')),
      [`PUT /session/renew/${sessionId}`, `PUT /session/renew/${sessionId}`],
    );
    assert.equal(count(consul, 'PUT /session/create'), 1);
    assert.equal(consul.callsOf('consul.kv.acquire').length, 1);
    assert.equal(lease.snapshot().reRegistrations, 0);
  });

  it('holds a warm invocation at most 15 ms for a renewal', async (t) => {
    const { consul, clock, lease } = setup(t);
    await lease.touch(SETTINGS);
    clock.now = T0 + 10_000;
    const gate = consul.hold('consul.session.renew');
    let done = false;
    void lease.touch(SETTINGS).then(() => (done = true));
    await assertSettlesAfter(t.mock.timers, 15, () => done, 'released while the renewal is still out');
    gate.resolve();
  });

  it('creates a new session and takes the key back when Consul answers that the session is gone', async (t) => {
    const { consul, clock, log, lease } = setup(t);
    await lease.touch(SETTINGS);
    const first = lease.snapshot();
    consul.end(first.sessionId ?? ''); // frozen past 2·TTL: the session lapsed and its key went with it
    assert.equal(consul.kv.has(first.key ?? ''), false);
    clock.now = T0 + 10_000;
    await lease.touch(SETTINGS);
    const snap = lease.snapshot();
    assert.notEqual(snap.sessionId, first.sessionId);
    assert.equal(snap.id, first.id, 'the same environment identity');
    assert.equal(consul.kv.get(first.key ?? '')?.session, snap.sessionId);
    assert.deepEqual({ reRegistrations: snap.reRegistrations, failures: snap.failures }, { reRegistrations: 1, failures: 0 });
    assert.deepEqual(log.messages('info'), ['lease session gone; creating it again']);
  });

  it('backs off on a 429 without creating a session again', async (t) => {
    const { consul, clock, lease } = setup(t);
    await lease.touch(SETTINGS);
    consul.failOn(
      'consul.session.renew',
      consulError('consul.session.renew', 429, 'Your IP is issuing too many concurrent connections'),
      1,
    );
    clock.now = T0 + 10_000;
    await lease.touch(SETTINGS);
    assert.equal(lease.snapshot().failures, 1);
    clock.now = T0 + 14_999;
    await lease.touch(SETTINGS);
    assert.equal(consul.callsOf('consul.session.renew').length, 1, 'the backoff (at least half a third of the TTL) is not over');
    clock.now = T0 + 20_001;
    await lease.touch(SETTINGS);
    assert.equal(consul.callsOf('consul.session.renew').length, 2, 'the same session renewed after the backoff');
    assert.equal(count(consul, 'PUT /session/create'), 1);
    assert.equal(lease.snapshot().failures, 0);
  });

  it('destroys a session whose key another session holds, and reports the registration failed', async () => {
    const consul = new SessionConsul();
    const key = sessionLeaseKey('lambda-leases', 'gw-lease', 'gw-lease-0123');
    consul.sessions.add('other');
    consul.kv.set(key, { value: '', modifyIndex: 1, session: 'other' });
    const store = new SessionLeaseStore(consul, recordingLog());
    await assert.rejects(store.register({ id: 'gw-lease-0123', meta: {} }, SETTINGS, 1_000), /another session holds/);
    assert.deepEqual([...consul.sessions], ['other'], 'the new session was destroyed');
    assert.equal(consul.kv.get(key)?.session, 'other');
    assert.deepEqual(store.details(), {});
  });

  it('destroys the session on release, which deletes the key', async (t) => {
    const { consul, lease } = setup(t);
    await lease.touch(SETTINGS);
    const { sessionId, key } = lease.snapshot();
    await lease.release(250);
    assert.deepEqual(
      consul.callsOf('consul.session.destroy').map((c) => c.options.timeoutMs),
      [250],
    );
    assert.equal(consul.paths.at(-1), `PUT /session/destroy/${sessionId}`);
    assert.equal(consul.kv.has(key ?? ''), false);
    assert.equal(lease.snapshot().registered, false);
  });
});

describe('lease config', () => {
  it('defaults to the agent mode and maps the session keys into the settings', () => {
    const keys = leaseKeys('gw-lambda');
    assert.equal(keys.leaseMode.default, 'agent');
    assert.equal(keys.leaseMode.schema.safeParse('session').success, true);
    assert.equal(keys.leaseMode.schema.safeParse('catalog').success, false);
    assert.equal(keys.leasePrefix.schema.safeParse('/leases').success, false);
    assert.equal(keys.leasePrefix.schema.safeParse('fleet/leases').success, true);
    assert.deepEqual(
      leaseSettingsFrom({
        leaseService: 's',
        leaseTtlSeconds: 30,
        leaseDeregisterAfterSeconds: 60,
        leaseMode: 'session',
        leasePrefix: 'p',
      }),
      { service: 's', ttlSeconds: 30, deregisterAfterSeconds: 60, mode: 'session', prefix: 'p' },
    );
    assert.equal(
      leaseSettingsFrom({ leaseService: 's', leaseTtlSeconds: 30, leaseDeregisterAfterSeconds: 60, leaseMode: 'agent', leasePrefix: 'p' })
        .mode,
      'agent',
    );
  });
});
