// Built the way the gateway builds it (ServiceWatchRegistry with failover
// datacenters); the fake source answers each datacenter's polls by hand.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { ServiceInstance } from '../../../lib/consul/service-instances';
import { FailoverWatch } from '../../../lib/discovery/failover-watch';
import { ServiceWatchRegistry } from '../../../lib/discovery/service-watch-registry';
import { silentLog } from '../../../lib/log/logger';
import { drainMicrotasks } from '../helpers/deferred';
import { fakeHealthSource, instance, type Poll } from '../helpers/fake-health-source';

const QUERY = { service: 'greeter', failover: ['dc2', 'dc3'] };
const options = () => ({ waitSeconds: 30, minIntervalMs: 0, backoffBaseMs: 100, backoffMaxMs: 1_000, repollSpreadMs: 0 });
let registry: ServiceWatchRegistry | undefined;
afterEach(() => registry?.stopAll());

function setup() {
  const src = fakeHealthSource();
  registry = new ServiceWatchRegistry(src.source, options, silentLog);
  const watch = registry.get(QUERY);
  assert.ok(watch instanceof FailoverWatch);
  const seen: (readonly ServiceInstance[])[] = [];
  watch.subscribe((l) => seen.push(l));
  /** The latest poll started for datacenter `dc` (undefined: the local one), which must exist. */
  const pollOf = async (dc: string | undefined): Promise<Poll> => {
    await drainMicrotasks();
    const poll = src.all.filter((p) => p.query.datacenter === dc && !p.signal.aborted).at(-1);
    return poll ?? assert.fail(`no poll for ${dc ?? 'the local datacenter'}`);
  };
  const pollsOf = (dc: string | undefined) => src.all.filter((p) => p.query.datacenter === dc).length;
  return { src, watch, seen, pollOf, pollsOf };
}

const ids = (list: readonly ServiceInstance[] | undefined) => list?.map((i) => `${i.id}@${i.datacenter ?? 'local'}`);

describe('FailoverWatch', () => {
  it('serves the local list and starts no remote watch while the local datacenter has instances', async () => {
    const { watch, seen, pollOf, pollsOf } = setup();
    (await pollOf(undefined)).resolve({ value: [instance('a', 1)], index: '5' });
    await drainMicrotasks();
    assert.deepEqual(ids(watch.current()), ['a@local']);
    assert.deepEqual(seen.map(ids), [['a@local']]);
    assert.equal(pollsOf('dc2') + pollsOf('dc3'), 0);
  });

  it('fails over to the first remote datacenter with instances while the local one has none, marking their datacenter', async () => {
    const { watch, seen, pollOf } = setup();
    (await pollOf(undefined)).resolve({ value: [], index: '5' });
    (await pollOf('dc2')).resolve({ value: [], index: '8' });
    (await pollOf('dc3')).resolve({ value: [instance('c', 3)], index: '9' });
    await drainMicrotasks();
    assert.deepEqual(ids(watch.current()), ['c@dc3']);
    assert.deepEqual(ids(seen.at(-1)), ['c@dc3']);
    (await pollOf('dc2')).resolve({ value: [instance('b', 2)], index: '10' });
    await drainMicrotasks();
    assert.deepEqual(ids(watch.current()), ['b@dc2'], 'an earlier datacenter is preferred');
  });

  it('comes back to the local datacenter as soon as it has instances again, keeping the remote watches', async () => {
    const { watch, seen, pollOf, pollsOf } = setup();
    (await pollOf(undefined)).resolve({ value: [], index: '5' });
    (await pollOf('dc2')).resolve({ value: [instance('b', 2)], index: '8' });
    await drainMicrotasks();
    assert.deepEqual(ids(watch.current()), ['b@dc2']);
    (await pollOf(undefined)).resolve({ value: [instance('a', 1)], index: '6' });
    await drainMicrotasks();
    assert.deepEqual(ids(watch.current()), ['a@local']);
    assert.deepEqual(ids(seen.at(-1)), ['a@local']);
    const before = pollsOf('dc2');
    (await pollOf('dc2')).resolve({ value: [instance('b', 2)], index: '9' });
    await drainMicrotasks();
    assert.equal(pollsOf('dc2'), before + 1, 'the remote watch keeps following, ready for the next outage');
  });

  it('serves the empty local list when no datacenter has an instance', async () => {
    const { watch, pollOf } = setup();
    (await pollOf(undefined)).resolve({ value: [], index: '5' });
    (await pollOf('dc2')).resolve({ value: [], index: '8' });
    (await pollOf('dc3')).resolve({ value: [], index: '9' });
    await drainMicrotasks();
    assert.deepEqual(watch.current(), []);
  });

  it('waits for the remote datacenters in order when the local one answers empty at a cold start', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const { watch, pollOf } = setup();
    let settled = false;
    const first = watch.waitForFirst(1_000).finally(() => (settled = true));
    (await pollOf(undefined)).resolve({ value: [], index: '5' });
    const dc2 = await pollOf('dc2');
    await drainMicrotasks();
    assert.equal(settled, false, 'still waiting for dc2');
    dc2.resolve({ value: [instance('b', 2)], index: '8' });
    await drainMicrotasks();
    assert.equal(settled, true);
    assert.deepEqual(ids(await first), ['b@dc2']);
  });

  it('gives up waiting at the bound when no remote datacenter answers', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const { watch, pollOf } = setup();
    let settled = false;
    const first = watch.waitForFirst(1_000).finally(() => (settled = true));
    t.mock.timers.tick(400);
    (await pollOf(undefined)).resolve({ value: [], index: '5' });
    await pollOf('dc2');
    t.mock.timers.tick(599);
    await drainMicrotasks();
    assert.equal(settled, false);
    t.mock.timers.tick(1);
    await drainMicrotasks();
    assert.equal(settled, true, 'the wait for dc2 got what was left of the bound');
    assert.equal(await first, undefined, 'not known: the local list is empty and dc2 has not answered');
  });

  it('serves nothing known while the local list is empty and a remote has not answered, then the remote list', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const { watch, pollOf } = setup();
    (await pollOf(undefined)).resolve({ value: [], index: '5' });
    await drainMicrotasks();
    assert.equal(watch.current(), undefined, 'a caller waits for the failover rather than failing at once');
    (await pollOf('dc2')).resolve({ value: [instance('r1', 2)], index: '9' });
    await drainMicrotasks();
    assert.deepEqual(
      watch.current()?.map((i) => [i.id, i.datacenter]),
      [['r1', 'dc2']],
    );
  });

  it('restarts stale polls of the remote watches only once they were started', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const { watch, pollOf, pollsOf } = setup();
    const local = await pollOf(undefined);
    t.mock.timers.tick(60_000); // a long freeze: the local poll is stale
    assert.equal(watch.ensureFresh(), true);
    assert.equal(local.signal.aborted, true);
    assert.equal(pollsOf('dc2'), 0, 'remote watches stay stopped');
    (await pollOf(undefined)).resolve({ value: [], index: '5' });
    const dc2 = await pollOf('dc2');
    t.mock.timers.tick(60_000);
    watch.ensureFresh();
    assert.equal(dc2.signal.aborted, true, 'a started remote watch is kept fresh too');
  });
});

describe('ServiceWatchRegistry with failover datacenters', () => {
  it('shares one failover watch per query and lists the single-datacenter watches under it', () => {
    const src = fakeHealthSource();
    registry = new ServiceWatchRegistry(src.source, options, silentLog);
    const a = registry.get(QUERY);
    assert.equal(registry.get({ service: 'greeter', failover: ['dc2', 'dc3'] }), a);
    assert.notEqual(registry.get({ service: 'greeter', failover: ['dc3', 'dc2'] }), a);
    assert.deepEqual(
      registry
        .all()
        .map((w) => w.query.datacenter ?? 'local')
        .sort(),
      ['dc2', 'dc3', 'local'],
    );
  });

  it('shares the local watch with a query without failover', () => {
    const src = fakeHealthSource();
    registry = new ServiceWatchRegistry(src.source, options, silentLog);
    registry.get(QUERY);
    registry.get({ service: 'greeter' });
    assert.equal(registry.all().filter((w) => w.query.datacenter === undefined).length, 1);
  });
});
