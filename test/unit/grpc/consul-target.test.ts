import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consulTarget, parseConsulTargetPath } from '../../../lib/grpc/consul-target';
import { GrpcTargetError } from '../../../lib/grpc/errors';

describe('consul targets', () => {
  it('round-trips service, tag and datacenter', () => {
    const q = { service: 'greeter', tag: 'v1', datacenter: 'dc2' };
    const t = consulTarget(q);
    assert.equal(t, 'consul:///greeter?tag=v1&dc=dc2');
    assert.deepEqual(parseConsulTargetPath(t.slice('consul:///'.length)), q);
  });
  it('round-trips failover datacenters in order', () => {
    const q = { service: 'greeter', failover: ['dc3', 'dc2'] };
    const t = consulTarget(q);
    assert.equal(t, 'consul:///greeter?failover=dc3%2Cdc2');
    assert.deepEqual(parseConsulTargetPath(t.slice('consul:///'.length)), q);
  });
  it('round-trips a Connect query, which never shares a target with a plaintext one', () => {
    const q = { service: 'greeter', tag: 'v1', connect: true };
    const t = consulTarget(q);
    assert.equal(t, 'consul:///greeter?tag=v1&connect=1');
    assert.notEqual(t, consulTarget({ service: 'greeter', tag: 'v1' }));
    assert.deepEqual(parseConsulTargetPath(t.slice('consul:///'.length)), q);
  });
  it('gives the same query object the same target each time, and a TLS name its own target', () => {
    const q = { service: 'greeter', tag: 'v1' };
    assert.equal(consulTarget(q), 'consul:///greeter?tag=v1');
    assert.equal(consulTarget(q), 'consul:///greeter?tag=v1');
    assert.equal(consulTarget(q, { tlsServerName: 'greeter.internal' }), 'consul:///greeter?tag=v1&tls=greeter.internal');
    assert.equal(consulTarget(q, { tlsServerName: 'other.internal' }), 'consul:///greeter?tag=v1&tls=other.internal');
    assert.equal(consulTarget(q), 'consul:///greeter?tag=v1');
  });
  it('leaves out an empty failover list', () => {
    assert.equal(consulTarget({ service: 'greeter', failover: [] }), 'consul:///greeter');
    assert.deepEqual(parseConsulTargetPath('greeter?failover=,'), { service: 'greeter' });
  });
  it('encodes a service name that needs it', () => {
    const t = consulTarget({ service: 'a b/c' });
    assert.equal(t, 'consul:///a%20b%2Fc');
    assert.equal(parseConsulTargetPath(t.slice('consul:///'.length)).service, 'a b/c');
  });
  it('omits empty filters', () => assert.deepEqual(parseConsulTargetPath('greeter'), { service: 'greeter' }));
  it('rejects a target without a service as a GrpcTargetError', () =>
    assert.throws(
      () => parseConsulTargetPath('?tag=x'),
      (err: unknown) => err instanceof GrpcTargetError && err.kind === 'invalid_target' && /no service/.test(err.message),
    ));
});
