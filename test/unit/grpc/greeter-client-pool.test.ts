import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GreeterClientPool } from '../../../lib/grpc/greeter-client-pool';

describe('GreeterClientPool', () => {
  it('reuses one channel per target across warm invocations', () => {
    let now = 0;
    const pool = new GreeterClientPool(() => now);
    const a = pool.get('consul:///greeter', 60_000);
    now += 59_000;
    assert.equal(pool.get('consul:///greeter', 60_000), a);
    assert.notEqual(pool.get('consul:///greeter?tag=v2', 60_000), a);
    pool.closeAll();
  });

  it('replaces a channel left idle longer than the limit (its connections may have died while frozen)', () => {
    let now = 0;
    const pool = new GreeterClientPool(() => now);
    const a = pool.get('consul:///greeter', 60_000);
    now += 60_001;
    const b = pool.get('consul:///greeter', 60_000);
    assert.notEqual(b, a);
    assert.equal(pool.replacedCount(), 1);
    pool.closeAll();
  });
});
