import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readKvSnapshot, STALE_AFTER_MS } from '../../../lib/config/kv-snapshot';
import { ConsulRequestError } from '../../../lib/consul/errors';
import { drainMicrotasks } from '../helpers/deferred';
import { consulError, FakeConsul } from '../helpers/fake-consul';

const PREFIX = 'config/greeter-gateway/test/';

function seeded() {
  const consul = new FakeConsul();
  consul.putKv(`${PREFIX}maxAttempts`, '4');
  consul.putKv(`${PREFIX}greeterTag`, 'v2');
  consul.putKv(`${PREFIX}nested/`, ''); // a folder
  consul.putKv(`${PREFIX}nested/key`, 'x');
  consul.putKv('config/other/maxAttempts', '9');
  return consul;
}

describe('readKvSnapshot', () => {
  it('returns the values below the prefix keyed by their relative path, without folders, with the index of the read', async () => {
    const consul = seeded();
    const snap = await readKvSnapshot(consul, PREFIX, 1_500);
    assert.deepEqual(snap.values, { maxAttempts: '4', greeterTag: 'v2', 'nested/key': 'x' });
    assert.equal(snap.index, String(consul.index));
    assert.deepEqual(snap.freshness, { stale: false, knownLeader: true, lastContactMs: 0 });
  });

  it('makes one default-consistency recursive read of the prefix within the given timeout when it answers in time', async () => {
    const consul = seeded();
    await readKvSnapshot(consul, PREFIX, 1_500);
    assert.deepEqual(
      consul.calls.map((c) => [c.operation, c.args.key, c.args.recurse, c.args.stale, c.options.timeoutMs]),
      [['consul.kv.get', PREFIX, true, undefined, 1_500]],
    );
  });

  it('reads a missing prefix as no values', async () => {
    const snap = await readKvSnapshot(new FakeConsul(), PREFIX, 1_500);
    assert.deepEqual(snap.values, {});
  });

  it('returns the previous snapshot itself when the index has not moved', async () => {
    const consul = seeded();
    const first = await readKvSnapshot(consul, PREFIX, 1_500);
    assert.equal(await readKvSnapshot(consul, PREFIX, 1_500, first), first);
  });

  it('returns a new snapshot once the index moved', async () => {
    const consul = seeded();
    const first = await readKvSnapshot(consul, PREFIX, 1_500);
    consul.putKv(`${PREFIX}maxAttempts`, '5');
    const second = await readKvSnapshot(consul, PREFIX, 1_500, first);
    assert.notEqual(second, first);
    assert.equal(second.values.maxAttempts, '5');
    assert.equal(first.values.maxAttempts, '4', 'the previous snapshot is left as it was');
  });

  it('returns the previous values with the new freshness when a stale read answers at the same index', async () => {
    const consul = seeded();
    const first = await readKvSnapshot(consul, PREFIX, 1_500);
    consul.failOn('consul.kv.get', consulError('consul.kv.get', 500, 'No cluster leader'), 1);
    const second = await readKvSnapshot(consul, PREFIX, 1_500, first);
    assert.notEqual(second, first);
    assert.equal(second.values, first.values, 'same values object: the store need not validate again');
    assert.equal(second.freshness.stale, true);
    assert.equal(first.freshness.stale, false);
  });

  it('reports the latest last-contact figure even when the index and staleness did not change', async () => {
    const consul = seeded();
    consul.failOn('consul.kv.get', consulError('consul.kv.get', 500, 'No cluster leader'), 2);
    consul.lastContactMs = 2_000;
    const first = await readKvSnapshot(consul, PREFIX, 1_500);
    consul.lastContactMs = 9_000;
    const second = await readKvSnapshot(consul, PREFIX, 1_500, first);
    assert.deepEqual([first.freshness.stale, first.freshness.lastContactMs], [true, 2_000]);
    assert.deepEqual([second.freshness.stale, second.freshness.lastContactMs], [true, 9_000]);
    assert.equal(second.values, first.values);
  });

  it('asks any server (a stale read) at once when the default read fails, and says the answer is stale', async () => {
    const consul = seeded();
    consul.failOn('consul.kv.get', consulError('consul.kv.get', 500, 'No cluster leader'));
    consul.knownLeader = false;
    consul.lastContactMs = 3_000;
    const snap = await readKvSnapshot(consul, PREFIX, 1_500);
    assert.equal(snap.values.maxAttempts, '4');
    assert.deepEqual(snap.freshness, { stale: true, knownLeader: false, lastContactMs: 3_000 });
    assert.deepEqual(
      consul.calls.map((c) => [c.operation, c.args.stale]),
      [
        ['consul.kv.get', undefined],
        ['consul.kv.get.stale', true],
      ],
    );
  });

  it('sends a stale read too once the default read has hung for staleAfterMs, and takes the first answer', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const consul = seeded();
    consul.hold('consul.kv.get'); // a follower holding the read during an election
    const reading = readKvSnapshot(consul, PREFIX, 1_500);
    await drainMicrotasks();
    t.mock.timers.tick(STALE_AFTER_MS - 1);
    await drainMicrotasks();
    assert.deepEqual(consul.operations(), ['consul.kv.get'], 'the default read gets its head start');
    t.mock.timers.tick(1);
    await drainMicrotasks();
    assert.deepEqual(consul.operations(), ['consul.kv.get', 'consul.kv.get.stale']);
    const snap = await reading;
    assert.equal(snap.freshness.stale, true);
    assert.equal(snap.values.maxAttempts, '4');
    const [consistent, stale] = consul.calls;
    assert.equal(stale?.operation, 'consul.kv.get.stale');
    assert.equal(stale?.options.timeoutMs, 1_500 - STALE_AFTER_MS, 'the stale read gets what is left of the budget');
    assert.equal(consistent?.options.signal?.aborted, true, 'the losing read is cancelled');
  });

  it('lets a permission denial through without a stale read', async () => {
    const consul = seeded();
    consul.failOn('consul.kv.get', consulError('consul.kv.get', 403, 'Permission denied'));
    await assert.rejects(
      readKvSnapshot(consul, PREFIX, 1_500),
      (err: unknown) => err instanceof ConsulRequestError && err.isPermissionDenied,
    );
    assert.deepEqual(consul.operations(), ['consul.kv.get']);
  });

  it("throws the default read's error when the stale read fails too", async () => {
    const consul = seeded();
    consul.failOn('consul.kv.get', consulError('consul.kv.get', undefined, 'connect ECONNREFUSED 10.0.0.1:8500'));
    consul.failOn('consul.kv.get.stale', consulError('consul.kv.get.stale', undefined, 'connect ECONNREFUSED 10.0.0.2:8500'));
    await assert.rejects(
      readKvSnapshot(consul, PREFIX, 1_500),
      (err: unknown) => err instanceof ConsulRequestError && /10\.0\.0\.1/.test(err.message),
    );
    assert.deepEqual(consul.operations(), ['consul.kv.get', 'consul.kv.get.stale']);
  });
});
