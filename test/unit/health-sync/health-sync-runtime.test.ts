// The health-sync runtime holds state only: the lock holder's name and one Cloud Map client per region and
// endpoint. Building it and its client makes no call (the SDK connects on a request), so no Consul is needed.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { createHealthSyncRuntime, type HealthSyncRuntime } from '../../../lib/health-sync/health-sync-runtime';
import { createLogger } from '../../../lib/log/logger';

const built: HealthSyncRuntime[] = [];
afterEach(() => {
  for (const rt of built.splice(0)) rt.close();
});

function runtime(lambda: { region?: string; logStream?: string }): HealthSyncRuntime {
  const rt = createHealthSyncRuntime(createLogger(), lambda);
  built.push(rt);
  return rt;
}

describe('health-sync runtime', () => {
  it("names the lock holder by the environment's log stream, or local outside Lambda", () => {
    assert.equal(runtime({ logStream: '2026/12/07/[$LATEST]abc' }).holder, `2026/12/07/[$LATEST]abc pid ${process.pid}`);
    assert.equal(runtime({}).holder, `local pid ${process.pid}`);
  });

  it("builds the Cloud Map client in the config's region, else the function's, else us-east-1", async () => {
    const regionOf = async (lambda: { region?: string }, cloudMapRegion: string) => {
      const rt = runtime(lambda);
      const client = await rt.cloudMapClient({ ...rt.config.values(), cloudMapRegion });
      return client.config.region();
    };
    assert.equal(await regionOf({ region: 'eu-west-1' }, 'eu-central-1'), 'eu-central-1');
    assert.equal(await regionOf({ region: 'eu-west-1' }, ''), 'eu-west-1');
    assert.equal(await regionOf({}, ''), 'us-east-1');
  });

  it('keeps one client while region and endpoint stay, and builds another when either changes', async () => {
    const rt = runtime({ region: 'eu-west-1' });
    const cfg = { ...rt.config.values(), cloudMapEndpoint: 'http://127.0.0.1:5000' };
    const first = await rt.cloudMapClient(cfg);
    assert.equal(await rt.cloudMapClient({ ...cfg }), first);
    const moved = await rt.cloudMapClient({ ...cfg, cloudMapEndpoint: 'http://127.0.0.1:5001' });
    assert.notEqual(moved, first);
    assert.notEqual(await rt.cloudMapClient({ ...cfg, cloudMapEndpoint: 'http://127.0.0.1:5001', cloudMapRegion: 'us-west-2' }), moved);
  });
});
