import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pollTimeoutMs } from '../../../lib/discovery/blocking-query';
import { consulHealthSource } from '../../../lib/discovery/health-source';
import { FakeConsul } from '../helpers/fake-consul';

function seeded() {
  const consul = new FakeConsul();
  consul.addService({ id: 'g2', service: 'greeter', address: '10.0.0.2', port: 50051, tags: ['v1'] });
  consul.addService({ id: 'g1', service: 'greeter', address: '10.0.0.1', port: 50051, tags: ['v1'] });
  consul.addService({ id: 'g3', service: 'greeter', address: '10.0.0.3', port: 50051, status: 'critical' });
  consul.addService({ id: 'b1', service: 'billing', address: '10.0.0.9', port: 8080 });
  return consul;
}

describe('consulHealthSource', () => {
  it('returns the passing instances of the service, sorted, with the index of the answer', async () => {
    const consul = seeded();
    const res = await consulHealthSource(consul).passingInstances({ service: 'greeter' }, undefined, 30, new AbortController().signal);
    assert.deepEqual(
      res.value.map((i) => [i.id, i.address, i.node]),
      [
        ['g1', '10.0.0.1', 'node-1'],
        ['g2', '10.0.0.2', 'node-1'],
      ],
    );
    assert.equal(res.index, String(consul.index));
  });

  it('asks any server (stale) for passing instances, and does not block without an index', async () => {
    const consul = seeded();
    const signal = new AbortController().signal;
    await consulHealthSource(consul).passingInstances({ service: 'greeter' }, undefined, 30, signal);
    const [call] = consul.calls;
    assert.equal(call?.operation, 'consul.health.service');
    assert.deepEqual(call?.args, { service: 'greeter', passing: true, stale: true });
    assert.deepEqual(call?.options, { signal });
  });

  it('blocks on the given index for up to waitSeconds, with a timeout that outlasts the wait', async () => {
    const consul = seeded();
    const signal = new AbortController().signal;
    await consulHealthSource(consul).passingInstances({ service: 'greeter', tag: 'v1', datacenter: 'dc2' }, '42', 30, signal);
    const [call] = consul.calls;
    assert.deepEqual(call?.args, { service: 'greeter', passing: true, stale: true, tag: 'v1', dc: 'dc2', index: '42', wait: '30s' });
    assert.deepEqual(call?.options, { signal, timeoutMs: pollTimeoutMs(30), blocking: true });
  });

  it('filters by tag', async () => {
    const consul = seeded();
    consul.addService({ id: 'g4', service: 'greeter', address: '10.0.0.4', port: 50051, tags: ['v2'] });
    const res = await consulHealthSource(consul).passingInstances(
      { service: 'greeter', tag: 'v2' },
      undefined,
      30,
      new AbortController().signal,
    );
    assert.deepEqual(
      res.value.map((i) => i.id),
      ['g4'],
    );
  });
});
