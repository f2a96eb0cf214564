import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExternalService } from '../../../lib/consul/catalog';
import type { ActualService } from '../../../lib/cloudmap/types';
import { EXTERNAL_SOURCE, importedId, planReverse } from '../../../lib/health-sync/reverse-plan';

const svc = (
  name: string,
  instances: { id: string; ip?: string; port?: string; health?: 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN' }[],
): ActualService => ({
  id: `srv-${name}`,
  name,
  customHealth: true,
  instances: instances.map((i) => ({
    id: i.id,
    attributes: { ...(i.ip ? { AWS_INSTANCE_IPV4: i.ip } : {}), AWS_INSTANCE_PORT: i.port ?? '80' },
    health: i.health ?? 'HEALTHY',
  })),
});
const existing = (id: string, o: Partial<ExternalService> = {}): ExternalService => ({
  id,
  service: 'legacy',
  address: '10.0.0.1',
  port: 80,
  tags: [],
  meta: { [EXTERNAL_SOURCE.key]: EXTERNAL_SOURCE.value },
  status: 'passing',
  ...o,
});

describe('planReverse', () => {
  it('imports only the selected services, with health and the external-source marker', () => {
    const p = planReverse(
      [
        svc('legacy', [
          { id: 'a', ip: '10.0.0.1' },
          { id: 'b', ip: '10.0.0.2', health: 'UNHEALTHY' },
        ]),
        svc('other', [{ id: 'c', ip: '10.0.0.3' }]),
      ],
      ['legacy'],
      [],
    );
    assert.deepEqual(
      p.register.map((r) => [r.id, r.status]),
      [
        [importedId('legacy', 'a'), 'passing'],
        [importedId('legacy', 'b'), 'critical'],
      ],
    );
    assert.equal(p.register[0]?.meta[EXTERNAL_SOURCE.key], EXTERNAL_SOURCE.value);
    assert.deepEqual(p.deregister, []);
  });
  it('changes nothing when Consul already matches', () => {
    const p = planReverse([svc('legacy', [{ id: 'a', ip: '10.0.0.1' }])], ['legacy'], [existing(importedId('legacy', 'a'))]);
    assert.deepEqual(p, { register: [], deregister: [] });
  });
  it('updates a changed health or address, and removes what left Cloud Map', () => {
    const p = planReverse(
      [svc('legacy', [{ id: 'a', ip: '10.0.0.1', health: 'UNHEALTHY' }])],
      ['legacy'],
      [existing(importedId('legacy', 'a')), existing('cloudmap-legacy-gone')],
    );
    assert.deepEqual(
      p.register.map((r) => r.status),
      ['critical'],
    );
    assert.deepEqual(p.deregister, ['cloudmap-legacy-gone']);
  });
  it('never touches services on the node that it did not import, and skips instances without an address', () => {
    const p = planReverse([svc('legacy', [{ id: 'x' }])], ['legacy'], [existing('hand-made', { meta: {} })]);
    assert.deepEqual(p, { register: [], deregister: [] });
  });
});
