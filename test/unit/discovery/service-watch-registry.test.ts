import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ServiceWatchRegistry } from '../../../lib/discovery/service-watch-registry';
import { silentLog } from '../../../lib/log/logger';
import { fakeHealthSource } from '../helpers/fake-health-source';

const options = () => ({ waitSeconds: 30, minIntervalMs: 0, backoffBaseMs: 100, backoffMaxMs: 1_000, repollSpreadMs: 0 });
let registry: ServiceWatchRegistry | undefined;
afterEach(() => registry?.stopAll());

describe('ServiceWatchRegistry', () => {
  it('shares one started watch per query', async () => {
    const src = fakeHealthSource();
    registry = new ServiceWatchRegistry(src.source, options, silentLog);
    const a = registry.get({ service: 'greeter' });
    assert.equal(registry.get({ service: 'greeter', tag: '' }), a);
    assert.equal((await src.nextPoll()).query.service, 'greeter');
    assert.equal(src.all.length, 1, 'one poll for both callers');
  });

  it('gives a query with an empty failover list the watch of the same query without one', () => {
    const src = fakeHealthSource();
    registry = new ServiceWatchRegistry(src.source, options, silentLog);
    const q = { service: 'greeter', tag: 'v1' };
    const a = registry.get(q);
    assert.equal(registry.get(q), a, 'the same query object, asked again');
    assert.equal(registry.get({ service: 'greeter', tag: 'v1', failover: [] }), a);
    assert.equal(registry.all().length, 1);
  });

  it('keeps separate watches for another tag, datacenter or service', () => {
    const src = fakeHealthSource();
    registry = new ServiceWatchRegistry(src.source, options, silentLog);
    const watches = [
      registry.get({ service: 'greeter' }),
      registry.get({ service: 'greeter', tag: 'v2' }),
      registry.get({ service: 'greeter', datacenter: 'dc2' }),
      registry.get({ service: 'billing' }),
    ];
    assert.equal(new Set(watches).size, 4);
    assert.deepEqual(registry.all(), watches);
    assert.equal(JSON.stringify({ registry }), '{"registry":"ServiceWatchRegistry(4 watches)"}');
  });

  it('stops every watch and forgets them on stopAll', async () => {
    const src = fakeHealthSource();
    registry = new ServiceWatchRegistry(src.source, options, silentLog);
    registry.get({ service: 'greeter' });
    const poll = await src.nextPoll();
    registry.stopAll();
    assert.equal(poll.signal.aborted, true);
    assert.deepEqual(registry.all(), []);
  });
});
