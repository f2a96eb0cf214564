// ServiceWatchRegistry.discard: a cold start's guessed watch that the config did not confirm is
// stopped and forgotten, unless a failover watch relies on it.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ServiceWatchRegistry } from '../../../lib/discovery/service-watch-registry';
import { silentLog } from '../../../lib/log/logger';
import { fakeHealthSource } from '../helpers/fake-health-source';

const options = () => ({ waitSeconds: 30, minIntervalMs: 0, backoffBaseMs: 100, backoffMaxMs: 1_000, repollSpreadMs: 0 });
let registry: ServiceWatchRegistry | undefined;
afterEach(() => registry?.stopAll());

describe('ServiceWatchRegistry.discard', () => {
  it('stops the watch of the query (its poll is aborted) and forgets it', async () => {
    const src = fakeHealthSource();
    registry = new ServiceWatchRegistry(src.source, options, silentLog);
    registry.get({ service: 'greeter' });
    const kept = registry.get({ service: 'billing' });
    const polls = [await src.nextPoll(), await src.nextPoll()];
    registry.discard({ service: 'greeter' });
    assert.equal(polls.find((p) => p.query.service === 'greeter')?.signal.aborted, true);
    assert.equal(polls.find((p) => p.query.service === 'billing')?.signal.aborted, false);
    assert.deepEqual(registry.all(), [kept]);
  });

  it('keeps a watch that a failover watch uses as its local or remote list', () => {
    const src = fakeHealthSource();
    registry = new ServiceWatchRegistry(src.source, options, silentLog);
    registry.get({ service: 'greeter', failover: ['dc2'] });
    const before = registry.all().length;
    registry.discard({ service: 'greeter' });
    registry.discard({ service: 'greeter', datacenter: 'dc2' });
    assert.equal(registry.all().length, before);
  });
});
