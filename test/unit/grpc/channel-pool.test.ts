import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectivityState } from '@grpc/grpc-js';
import type { HealthSource } from '../../../lib/discovery/health-source';
import { ServiceWatchRegistry } from '../../../lib/discovery/service-watch-registry';
import { ChannelPool } from '../../../lib/grpc/channel-pool';
import { unaryCall } from '../../../lib/grpc/unary-call';
import { GreeterService } from '../../../proto/gen/helloworld';
import { GreeterCallError } from '../../../lib/grpc/errors';
import { createServer } from 'node:net';
import { silentLog } from '../../../lib/log/logger';
import { callPolicySettings } from './call-policy-settings';

// No consul: channel here makes a call, so none resolves and the source is never asked.
const source: HealthSource = { name: 'consul', passingInstances: () => Promise.reject(new Error('not expected in this test')) };
const registry = () =>
  new ServiceWatchRegistry(source, () => ({ waitSeconds: 1, minIntervalMs: 0, backoffBaseMs: 10, backoffMaxMs: 100 }), silentLog);
const isShutDown = (c: { getChannel(): { getConnectivityState(connect: boolean): connectivityState } }) =>
  c.getChannel().getConnectivityState(false) === connectivityState.SHUTDOWN;

const G = 'helloworld.Greeter';
const settings = callPolicySettings;
const SAY_HELLO = {
  service: G,
  method: 'SayHello',
  path: GreeterService.sayHello.path,
  idempotent: true,
  serialize: GreeterService.sayHello.requestSerialize,
  deserialize: GreeterService.sayHello.responseDeserialize,
};

describe('ChannelPool', () => {
  it('gives two gRPC services behind one target a channel each, and each service one policy', () => {
    const pool = new ChannelPool(registry(), settings);
    const a = pool.get(G, 'consul:///greeter', 60_000);
    assert.notEqual(pool.get('echo.v1.Echo', 'consul:///greeter', 60_000), a);
    const p = pool.policy(G, [{ service: G, method: 'SayHello' }]);
    assert.equal(pool.policy(G), p);
    assert.deepEqual(Object.keys(pool.snapshot()).sort(), ['echo.v1.Echo', G]);
    pool.closeAll();
  });

  it('reuses one channel per target across warm invocations', () => {
    let now = 0;
    const pool = new ChannelPool(registry(), settings, () => now);
    const a = pool.get(G, 'consul:///greeter', 60_000);
    now += 59_000;
    assert.equal(pool.get(G, 'consul:///greeter', 60_000), a);
    assert.notEqual(pool.get(G, 'consul:///greeter?tag=v2', 60_000), a);
    assert.equal(pool.replacedCount(), 0);
    pool.closeAll();
  });

  it('discards a channel: closed, and the next get builds a new one', () => {
    const pool = new ChannelPool(registry(), settings);
    const a = pool.get(G, 'consul:///greeter', 60_000);
    const other = pool.get(G, 'consul:///billing', 60_000);
    pool.discard(G, 'consul:///greeter');
    pool.discard(G, 'consul:///never-built');
    assert.ok(isShutDown(a));
    assert.ok(!isShutDown(other));
    assert.notEqual(pool.get(G, 'consul:///greeter', 60_000), a);
    pool.closeAll();
  });

  it('measures idleness from the last use, not from creation', () => {
    let now = 0;
    const pool = new ChannelPool(registry(), settings, () => now);
    const a = pool.get(G, 'consul:///greeter', 60_000);
    now += 50_000;
    pool.get(G, 'consul:///greeter', 60_000);
    now += 50_000;
    assert.equal(pool.get(G, 'consul:///greeter', 60_000), a);
    pool.closeAll();
  });

  it('replaces and closes a channel left idle longer than the limit (its connections may have died while frozen)', () => {
    let now = 0;
    const pool = new ChannelPool(registry(), settings, () => now);
    const a = pool.get(G, 'consul:///greeter', 60_000);
    now += 60_001;
    const b = pool.get(G, 'consul:///greeter', 60_000);
    assert.notEqual(b, a);
    assert.equal(isShutDown(a), true);
    assert.equal(isShutDown(b), false);
    assert.equal(pool.replacedCount(), 1);
    pool.closeAll();
  });

  it('closes every channel on closeAll and builds new ones afterwards', () => {
    const pool = new ChannelPool(registry(), settings, () => 0);
    const a = pool.get(G, 'consul:///greeter', 60_000);
    const b = pool.get(G, 'consul:///other', 60_000);
    pool.closeAll();
    assert.equal(isShutDown(a), true);
    assert.equal(isShutDown(b), true);
    const c = pool.get(G, 'consul:///greeter', 60_000);
    assert.notEqual(c, a);
    pool.closeAll();
  });

  it('calls a channel new for its first second only, and a replaced channel new again', () => {
    let now = 0;
    const pool = new ChannelPool(registry(), settings, () => now);
    assert.equal(pool.isNew(G, 'consul:///greeter'), false, 'no channel yet');
    pool.get(G, 'consul:///greeter', 60_000);
    now = 999;
    assert.equal(pool.isNew(G, 'consul:///greeter'), true);
    pool.get(G, 'consul:///greeter', 60_000);
    now = 1_000;
    assert.equal(pool.isNew(G, 'consul:///greeter'), false, 'use does not make it new again');
    now = 70_000;
    pool.get(G, 'consul:///greeter', 60_000);
    assert.equal(pool.isNew(G, 'consul:///greeter'), true);
    pool.closeAll();
  });

  it('says when every address of a channel refused (TRANSIENT_FAILURE), and not for an unknown target', async () => {
    // A loopback port that was just free: connecting to it is refused at once.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    await new Promise((r) => server.close(r));
    const pool = new ChannelPool(registry(), settings);
    try {
      const target = `ipv4:127.0.0.1:${port}`;
      const client = pool.get(G, target, 60_000);
      assert.equal(pool.allRefused(G, target), false, 'not before it tried');
      await assert.rejects(
        unaryCall(client, SAY_HELLO, { name: 'Ada' }, { deadline: Date.now() + 5_000 }),
        (e) => e instanceof GreeterCallError && e.kind === 'unavailable',
      );
      assert.equal(pool.allRefused(G, target), true);
      assert.equal(pool.allRefused(G, 'consul:///other'), false);
    } finally {
      pool.closeAll();
    }
  });
});
