import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectivityState } from '@grpc/grpc-js';
import type { HealthSource } from '../../../lib/discovery/health-source';
import { ServiceWatchRegistry } from '../../../lib/discovery/service-watch-registry';
import { GreeterClientPool } from '../../../lib/grpc/greeter-client-pool';
import { sayHello } from '../../../lib/grpc/greeter-call';
import { GreeterCallError } from '../../../lib/grpc/errors';
import { createServer } from 'node:net';
import { silentLog } from '../../../lib/log/logger';

// No consul: channel here makes a call, so none resolves and the source is never asked.
const source: HealthSource = { name: 'consul', passingInstances: () => Promise.reject(new Error('not expected in this test')) };
const registry = () =>
  new ServiceWatchRegistry(source, () => ({ waitSeconds: 1, minIntervalMs: 0, backoffBaseMs: 10, backoffMaxMs: 100 }), silentLog);
const isShutDown = (c: { getChannel(): { getConnectivityState(connect: boolean): connectivityState } }) =>
  c.getChannel().getConnectivityState(false) === connectivityState.SHUTDOWN;

describe('GreeterClientPool', () => {
  it('reuses one channel per target across warm invocations', () => {
    let now = 0;
    const pool = new GreeterClientPool(registry(), () => now);
    const a = pool.get('consul:///greeter', 60_000);
    now += 59_000;
    assert.equal(pool.get('consul:///greeter', 60_000), a);
    assert.notEqual(pool.get('consul:///greeter?tag=v2', 60_000), a);
    assert.equal(pool.replacedCount(), 0);
    pool.closeAll();
  });

  it('discards a channel: closed, and the next get builds a new one', () => {
    const pool = new GreeterClientPool(registry());
    const a = pool.get('consul:///greeter', 60_000);
    const other = pool.get('consul:///billing', 60_000);
    pool.discard('consul:///greeter');
    pool.discard('consul:///never-built');
    assert.ok(isShutDown(a));
    assert.ok(!isShutDown(other));
    assert.notEqual(pool.get('consul:///greeter', 60_000), a);
    pool.closeAll();
  });

  it('measures idleness from the last use, not from creation', () => {
    let now = 0;
    const pool = new GreeterClientPool(registry(), () => now);
    const a = pool.get('consul:///greeter', 60_000);
    now += 50_000;
    pool.get('consul:///greeter', 60_000);
    now += 50_000;
    assert.equal(pool.get('consul:///greeter', 60_000), a);
    pool.closeAll();
  });

  it('replaces and closes a channel left idle longer than the limit (its connections may have died while frozen)', () => {
    let now = 0;
    const pool = new GreeterClientPool(registry(), () => now);
    const a = pool.get('consul:///greeter', 60_000);
    now += 60_001;
    const b = pool.get('consul:///greeter', 60_000);
    assert.notEqual(b, a);
    assert.equal(isShutDown(a), true);
    assert.equal(isShutDown(b), false);
    assert.equal(pool.replacedCount(), 1);
    pool.closeAll();
  });

  it('closes every channel on closeAll and builds new ones afterwards', () => {
    const pool = new GreeterClientPool(registry(), () => 0);
    const a = pool.get('consul:///greeter', 60_000);
    const b = pool.get('consul:///other', 60_000);
    pool.closeAll();
    assert.equal(isShutDown(a), true);
    assert.equal(isShutDown(b), true);
    const c = pool.get('consul:///greeter', 60_000);
    assert.notEqual(c, a);
    pool.closeAll();
  });

  it('calls a channel new for its first second only, and a replaced channel new again', () => {
    let now = 0;
    const pool = new GreeterClientPool(registry(), () => now);
    assert.equal(pool.isNew('consul:///greeter'), false, 'no channel yet');
    pool.get('consul:///greeter', 60_000);
    now = 999;
    assert.equal(pool.isNew('consul:///greeter'), true);
    pool.get('consul:///greeter', 60_000);
    now = 1_000;
    assert.equal(pool.isNew('consul:///greeter'), false, 'use does not make it new again');
    now = 70_000;
    pool.get('consul:///greeter', 60_000);
    assert.equal(pool.isNew('consul:///greeter'), true);
    pool.closeAll();
  });

  it('says when every address of a channel refused (TRANSIENT_FAILURE), and not for an unknown target', async () => {
    // A loopback port that was just free: connecting to it is refused at once.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    await new Promise((r) => server.close(r));
    const pool = new GreeterClientPool(registry());
    try {
      const target = `ipv4:127.0.0.1:${port}`;
      const client = pool.get(target, 60_000);
      assert.equal(pool.allRefused(target), false, 'not before it tried');
      await assert.rejects(
        sayHello(client, 'Ada', { deadline: Date.now() + 5_000 }),
        (e) => e instanceof GreeterCallError && e.kind === 'unavailable',
      );
      assert.equal(pool.allRefused(target), true);
      assert.equal(pool.allRefused('consul:///other'), false);
    } finally {
      pool.closeAll();
    }
  });
});
