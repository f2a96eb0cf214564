// The store's clock is injected; the cold-start retry pauses (node:timers/promises)
// run on mock.timers, so the budget is walked through without real waiting.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONFIG_STORE_KEYS, ConfigStore } from '../../../lib/config/config-store';
import { intKey, optionalNameKey, type KeySpecs } from '../../../lib/config/key-specs';
import { drainMicrotasks } from '../helpers/deferred';
import { consulError, FakeConsul } from '../helpers/fake-consul';
import { recordingLog } from '../helpers/recording-log';

const PREFIX = 'config/test-fn/local/';
const SPECS = {
  ...CONFIG_STORE_KEYS,
  maxAttempts: { schema: intKey(1, 10), default: 3, doc: 'attempts' },
  greeterTag: { schema: optionalNameKey('tag'), default: '', doc: 'tag' },
} as const satisfies KeySpecs;

const kvReads = (consul: FakeConsul) => consul.callsOf('consul.kv.get').length;

function setup(kv: Record<string, string> = {}) {
  const consul = new FakeConsul();
  for (const [k, v] of Object.entries(kv)) consul.putKv(`${PREFIX}${k}`, v);
  const log = recordingLog();
  const clock = { now: 1_000_000 };
  const store = new ConfigStore(consul, PREFIX, SPECS, log, {}, () => clock.now);
  return { consul, log, clock, store };
}

describe('ConfigStore cold start', () => {
  it('serves the defaults from values() before the first load, without any Consul call', () => {
    const { consul, store } = setup({ maxAttempts: '5' });
    assert.equal(store.values().maxAttempts, 3);
    assert.equal(store.values().configMaxAgeSeconds, 60);
    assert.equal(store.current(), undefined);
    assert.equal(consul.calls.length, 0);
  });

  it('loads K/V once on the first get, typed, with the source of each key and the index of the read', async () => {
    const { consul, log, store } = setup({ maxAttempts: '5', greeterTag: 'v2' });
    const loaded = await store.get();
    assert.deepEqual(loaded.values, { configMaxAgeSeconds: 60, maxAttempts: 5, greeterTag: 'v2' });
    assert.deepEqual(loaded.sources, { configMaxAgeSeconds: 'default', maxAttempts: 'kv', greeterTag: 'kv' });
    assert.equal(loaded.index, String(consul.index));
    assert.equal(loaded.loadedAt, 1_000_000);
    assert.deepEqual(loaded.freshness, { stale: false, knownLeader: true, lastContactMs: 0 });
    assert.equal(store.current(), loaded);
    assert.equal(store.values(), loaded.values);
    assert.equal(await store.get(), loaded, 'a warm get reads nothing');
    assert.equal(kvReads(consul), 1);
    assert.deepEqual(log.messages('info'), ['config loaded from Consul K/V']);
  });

  it('falls back to the default of a key whose K/V value is invalid and reports the problem', async () => {
    const { log, store } = setup({ maxAttempts: 'lots', greeterTag: 'v2' });
    const loaded = await store.get();
    assert.equal(loaded.values.maxAttempts, 3);
    assert.equal(loaded.values.greeterTag, 'v2', 'other keys still come from K/V');
    assert.equal(loaded.sources.maxAttempts, 'default (invalid kv value)');
    assert.deepEqual(
      loaded.problems.map((p) => p.key),
      ['maxAttempts'],
    );
    assert.match(loaded.problems[0]?.reason ?? '', /integer/);
    const line = log.lines.find((l) => l.level === 'error');
    assert.equal(line?.message, 'invalid config value in Consul K/V; using the default for this key');
    assert.equal(line?.attributes.key, `${PREFIX}maxAttempts`);
  });

  it('warns about unknown keys and ignores them', async () => {
    const { log, store } = setup({ maxAtempts: '5' });
    const loaded = await store.get();
    assert.equal(loaded.values.maxAttempts, 3);
    assert.deepEqual(loaded.unknownKeys, ['maxAtempts']);
    assert.deepEqual(log.lines.find((l) => l.level === 'warn')?.attributes.keys, ['maxAtempts']);
  });

  it('starts on defaults marked "consul unreachable" at once when the token may not read the prefix', async () => {
    const { consul, log, store } = setup({ maxAttempts: '5' });
    consul.failOn('consul.kv.get', consulError('consul.kv.get', 403, 'Permission denied'));
    const loaded = await store.get();
    assert.equal(loaded.values.maxAttempts, 3);
    assert.equal(loaded.sources.maxAttempts, 'default (consul unreachable)');
    assert.equal(loaded.index, undefined);
    assert.equal(kvReads(consul), 1, 'a denial is not retried');
    assert.equal(consul.callsOf('consul.kv.get.stale').length, 0, 'nor asked of any other server');
    assert.deepEqual(log.messages('error'), ['the Consul token may not read the config prefix; starting on defaults']);
  });

  it('retries an unreachable Consul within the cold-start budget, then starts on defaults', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const consul = new FakeConsul();
    const log = recordingLog();
    const store = new ConfigStore(consul, PREFIX, SPECS, log, { coldStartBudgetMs: 1_500, noAnswerBudgetMs: 1_500 }, () => Date.now());
    const attemptsAt: number[] = [];
    consul.onCall = (call) => call.operation === 'consul.kv.get' && attemptsAt.push(Date.now());
    // Every server is down: the default read and the stale read that follows it both fail.
    consul.failOn(/^consul\.kv\.get/, consulError('consul.kv.get', undefined, 'connect ECONNREFUSED'));
    let settled = false;
    const loading = store.get().finally(() => (settled = true));
    while (!settled) {
      await drainMicrotasks();
      t.mock.timers.tick(100);
      assert.ok(Date.now() <= 2_000, 'the budget bounds the cold start');
    }
    const loaded = await loading;
    // Pauses of 200, 400, 600 ms, then what is left of the budget less 100 ms.
    assert.deepEqual(attemptsAt, [0, 200, 600, 1_200, 1_400]);
    assert.equal(loaded.sources.maxAttempts, 'default (consul unreachable)');
    assert.equal(loaded.index, undefined);
    const line = log.lines.find((l) => l.level === 'error');
    assert.equal(line?.message, 'Consul K/V unreachable at cold start; starting on defaults');
    assert.equal(line?.attributes.attempts, 5);
  });

  it('gives refused connections only noAnswerBudgetMs of the budget (one retry 50 ms later by default), then starts on defaults', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const consul = new FakeConsul();
    const store = new ConfigStore(consul, PREFIX, SPECS, recordingLog(), { coldStartBudgetMs: 1_500 }, () => Date.now());
    const attemptsAt: number[] = [];
    consul.onCall = (call) => call.operation === 'consul.kv.get' && attemptsAt.push(Date.now());
    consul.failOn(/^consul\.kv\.get/, consulError('consul.kv.get', undefined, 'connect ECONNREFUSED'));
    let settled = false;
    const loading = store.get().finally(() => (settled = true));
    while (!settled) {
      await drainMicrotasks();
      t.mock.timers.tick(50);
    }
    assert.equal((await loading).sources.maxAttempts, 'default (consul unreachable)');
    assert.deepEqual(attemptsAt, [0, 50]);
  });

  it('loads K/V when Consul answers on a retry within the budget', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const consul = new FakeConsul();
    consul.putKv(`${PREFIX}maxAttempts`, '7');
    const store = new ConfigStore(consul, PREFIX, SPECS, recordingLog(), { coldStartBudgetMs: 1_500, noAnswerBudgetMs: 1_500 }, () =>
      Date.now(),
    );
    consul.failOn(/^consul\.kv\.get/, consulError('consul.kv.get', undefined, 'connect ECONNREFUSED'), 4); // two attempts, two reads each
    let settled = false;
    const loading = store.get().finally(() => (settled = true));
    while (!settled) {
      await drainMicrotasks();
      t.mock.timers.tick(100);
    }
    const loaded = await loading;
    assert.equal(loaded.values.maxAttempts, 7);
    assert.equal(loaded.sources.maxAttempts, 'kv');
    assert.equal(kvReads(consul), 3);
  });

  it('loads from a stale read when the default read fails (no leader), warning and recording how fresh it was', async () => {
    const { consul, log, store } = setup({ maxAttempts: '5' });
    consul.failOn('consul.kv.get', consulError('consul.kv.get', 500, 'No cluster leader'));
    consul.knownLeader = false;
    consul.lastContactMs = 4_200;
    const loaded = await store.get();
    assert.equal(loaded.values.maxAttempts, 5);
    assert.equal(loaded.sources.maxAttempts, 'kv');
    assert.deepEqual(loaded.freshness, { stale: true, knownLeader: false, lastContactMs: 4_200 });
    const warn = log.lines.find((l) => l.level === 'warn');
    assert.deepEqual(warn, {
      level: 'warn',
      message: 'config read from a stale server',
      attributes: { prefix: PREFIX, knownLeader: false, lastContactMs: 4_200 },
    });
  });
});

describe('ConfigStore refresh', () => {
  it('re-reads K/V in the background once configMaxAgeSeconds passed, never holding up a get', async () => {
    const { consul, log, clock, store } = setup({ configMaxAgeSeconds: '60', maxAttempts: '5' });
    const first = await store.get();
    clock.now += 59_999;
    await store.get();
    assert.equal(kvReads(consul), 1, 'still fresh');
    clock.now += 1;
    consul.putKv(`${PREFIX}maxAttempts`, '6');
    const gate = consul.hold('consul.kv.get');
    assert.equal(await store.get(), first, 'the get answers with the current config while the read is held');
    assert.equal(await store.get(), first);
    assert.equal(kvReads(consul), 2, 'one refresh in flight at a time');
    gate.resolve();
    await store.settled();
    assert.equal(store.values().maxAttempts, 6);
    assert.equal(store.current()?.index, String(consul.index));
    assert.equal(store.current()?.loadedAt, clock.now);
    assert.deepEqual(log.messages('info'), ['config loaded from Consul K/V', 'config changed in Consul K/V']);
  });

  it('shares the first read among calls made while it runs (concurrent invocations of one environment)', async () => {
    const { consul, log, store } = setup({ maxAttempts: '5' });
    const gate = consul.hold('consul.kv.get');
    const [a, b] = [store.get(), store.get()];
    gate.resolve();
    const [first, second] = await Promise.all([a, b]);
    assert.equal(kvReads(consul), 1);
    assert.equal(second, first);
    assert.deepEqual(log.messages('info'), ['config loaded from Consul K/V']);
  });

  it('cached() serves the loaded config without waiting, and starts the refresh get() would', async () => {
    const { consul, clock, store } = setup({ configMaxAgeSeconds: '60', maxAttempts: '5' });
    assert.equal(store.cached(), undefined, 'nothing before the first load');
    assert.equal(kvReads(consul), 0, 'and no read for asking');
    const first = await store.get();
    assert.equal(store.cached(), first);
    assert.equal(kvReads(consul), 1, 'still fresh');
    clock.now += 60_000;
    consul.putKv(`${PREFIX}maxAttempts`, '6');
    assert.equal(store.cached(), first, 'the current config while the refresh runs');
    assert.equal(kvReads(consul), 2, 'the refresh started');
    await store.settled();
    assert.equal(store.cached()?.values.maxAttempts, 6);
  });

  it('keeps the same values object and skips validation when the index has not moved', async () => {
    const { consul, log, clock, store } = setup({ configMaxAgeSeconds: '60', maxAttempts: 'bad' });
    const first = await store.get();
    const errorsAfterLoad = log.messages('error').length;
    clock.now += 60_000;
    await store.get();
    await store.settled();
    assert.equal(kvReads(consul), 2);
    assert.equal(store.current()?.values, first.values, 'same values object');
    assert.equal(store.current()?.loadedAt, clock.now, 'the age starts over');
    assert.equal(log.messages('error').length, errorsAfterLoad, 'the invalid value is not reported again');
    assert.deepEqual(log.messages('info'), ['config loaded from Consul K/V']);
    clock.now += 59_999;
    await store.get();
    assert.equal(kvReads(consul), 2, 'the next refresh waits a whole max age again');
  });

  it('keeps the same values object when a stale read answers at the same index, but records that it was stale', async () => {
    const { consul, log, clock, store } = setup({ configMaxAgeSeconds: '60', maxAttempts: '5' });
    const first = await store.get();
    clock.now += 60_000;
    consul.failOn('consul.kv.get', consulError('consul.kv.get', 500, 'No cluster leader'), 1);
    consul.knownLeader = false;
    await store.get();
    await store.settled();
    assert.equal(store.current()?.values, first.values);
    assert.equal(store.current()?.freshness?.stale, true);
    assert.equal(store.current()?.freshness?.knownLeader, false);
    assert.deepEqual(log.messages('info'), ['config loaded from Consul K/V'], 'not reported as a change');
  });

  it('never refreshes when configMaxAgeSeconds is 0', async () => {
    const { consul, clock, store } = setup({ configMaxAgeSeconds: '0' });
    await store.get();
    clock.now += 86_400_000;
    await store.get();
    await store.settled();
    assert.equal(kvReads(consul), 1);
  });

  it('keeps the current config when a refresh fails, and tries again one max age later', async () => {
    const { consul, log, clock, store } = setup({ configMaxAgeSeconds: '60', maxAttempts: '5' });
    const first = await store.get();
    clock.now += 60_000;
    consul.failOn(/^consul\.kv\.get/, consulError('consul.kv.get', undefined, 'connect ECONNREFUSED'), 2);
    await store.get();
    await store.settled();
    assert.equal(store.current()?.values, first.values);
    assert.deepEqual(log.messages('warn'), ['config refresh failed; keeping the current config']);
    clock.now += 59_999;
    await store.get();
    assert.equal(kvReads(consul), 2, 'no retry on every invocation');
    clock.now += 1;
    await store.get();
    await store.settled();
    assert.equal(kvReads(consul), 3);
  });

  it('after starting on defaults, tries Consul again in the background every unreachableRetryMs', async () => {
    const consul = new FakeConsul();
    consul.putKv(`${PREFIX}maxAttempts`, '8');
    const clock = { now: 0 };
    const store = new ConfigStore(consul, PREFIX, SPECS, recordingLog(), { unreachableRetryMs: 5_000 }, () => clock.now);
    consul.failOn('consul.kv.get', consulError('consul.kv.get', 403, 'Permission denied'), 1);
    assert.equal((await store.get()).sources.maxAttempts, 'default (consul unreachable)');
    clock.now += 4_999;
    await store.get();
    assert.equal(kvReads(consul), 1);
    clock.now += 1;
    await store.get();
    await store.settled();
    assert.equal(store.values().maxAttempts, 8);
    assert.equal(store.current()?.sources.maxAttempts, 'kv');
  });
});
