import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InstanceHealth } from '../../../lib/consul/health';
import { desiredServices } from '../../../lib/health-sync/desired-state';

const entry = (id: string, address: string, status: InstanceHealth['status']): InstanceHealth => ({
  instance: { id, service: 'greeter', address, port: 50051, tags: ['v1'], meta: { zone: 'a' }, node: 'n' },
  status,
  checks: [],
});

describe('desiredServices', () => {
  it('mirrors every instance with its health, passing or not', () => {
    const { services } = desiredServices(new Map([['greeter', [entry('a', '10.0.0.1', 'passing'), entry('b', '10.0.0.2', 'critical')]]]));
    assert.deepEqual(
      services[0]?.instances.map((i) => [i.id, i.healthy]),
      [
        ['a', true],
        ['b', false],
      ],
    );
    assert.deepEqual(services[0]?.instances[0]?.tags, ['v1']);
  });
  it('skips what Cloud Map cannot hold (non-IPv4) and says why', () => {
    const r = desiredServices(new Map([['greeter', [entry('a', '::1', 'passing')]]]));
    assert.equal(r.services[0]?.instances.length, 0);
    assert.match(r.skipped[0] ?? '', /not IPv4/);
  });
});
