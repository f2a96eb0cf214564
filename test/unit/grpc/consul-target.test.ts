import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consulTarget, parseConsulTargetPath } from '../../../lib/grpc/consul-target';

describe('consul targets', () => {
  it('round-trips service, tag and datacenter', () => {
    const q = { service: 'greeter', tag: 'v1', datacenter: 'dc2' };
    const t = consulTarget(q);
    assert.equal(t, 'consul:///greeter?tag=v1&dc=dc2');
    assert.deepEqual(parseConsulTargetPath(t.slice('consul:///'.length)), q);
  });
  it('omits empty filters', () => assert.deepEqual(parseConsulTargetPath('greeter'), { service: 'greeter' }));
  it('rejects a target without a service', () => assert.throws(() => parseConsulTargetPath('?tag=x'), /no service/));
});
