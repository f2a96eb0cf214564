import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServiceInstance } from '../../../lib/consul/service-instances';
import { instanceForPeer, queryKey, sameInstances } from '../../../lib/discovery/service-query';

const inst = (id: string, port: number, address = '10.0.0.1', extra: Partial<ServiceInstance> = {}): ServiceInstance => ({
  id,
  service: 'greeter',
  address,
  port,
  tags: ['v1'],
  meta: { zone: 'a' },
  node: 'n1',
  ...extra,
});

describe('sameInstances', () => {
  it('sees two lists with the same instances as the same', () => {
    assert.equal(sameInstances([inst('a', 1), inst('b', 2)], [inst('a', 1), inst('b', 2)]), true);
  });

  it('sees a changed port, address, tag or meta value as a different list', () => {
    const base = [inst('a', 1)];
    assert.equal(sameInstances(base, [inst('a', 2)]), false);
    assert.equal(sameInstances(base, [inst('a', 1, '10.0.0.2')]), false);
    assert.equal(sameInstances(base, [inst('a', 1, '10.0.0.1', { tags: ['v2'] })]), false);
    assert.equal(sameInstances(base, [inst('a', 1, '10.0.0.1', { meta: { zone: 'b' } })]), false);
  });

  it('sees lists of different lengths as different', () => {
    assert.equal(sameInstances([inst('a', 1)], [inst('a', 1), inst('b', 2)]), false);
    assert.equal(sameInstances([], []), true);
  });
});

describe('instanceForPeer', () => {
  const list = [inst('a', 50051, '127.0.0.1'), inst('b', 50052, '::1')];

  it('maps IPv4 and bracketed IPv6 peers', () => {
    assert.equal(instanceForPeer(list, '127.0.0.1:50051')?.id, 'a');
    assert.equal(instanceForPeer(list, '[::1]:50052')?.id, 'b');
  });

  it('maps peers carrying an ipv4:/ipv6: scheme prefix', () => {
    assert.equal(instanceForPeer(list, 'ipv4:127.0.0.1:50051')?.id, 'a');
    assert.equal(instanceForPeer(list, 'ipv6:[::1]:50052')?.id, 'b');
  });

  it('returns undefined for an unknown or unparsable peer', () => {
    assert.equal(instanceForPeer(list, '127.0.0.1:1'), undefined);
    assert.equal(instanceForPeer(list, 'not a peer'), undefined);
  });
});

describe('queryKey', () => {
  it('differs by service, tag, datacenter and Connect', () => {
    const keys = new Set([
      queryKey({ service: 's' }),
      queryKey({ service: 't' }),
      queryKey({ service: 's', tag: 't' }),
      queryKey({ service: 's', datacenter: 'dc2' }),
      queryKey({ service: 's', connect: true }),
    ]);
    assert.equal(keys.size, 5);
  });

  it('differs by the failover datacenters and their order', () => {
    const base = queryKey({ service: 's' });
    const a = queryKey({ service: 's', failover: ['dc2', 'dc3'] });
    const b = queryKey({ service: 's', failover: ['dc3', 'dc2'] });
    assert.equal(new Set([base, a, b]).size, 3);
    assert.equal(queryKey({ service: 's', failover: [] }), base);
  });

  it('treats an empty tag or datacenter as none', () => {
    assert.equal(queryKey({ service: 's' }), queryKey({ service: 's', tag: '', datacenter: '' }));
  });

  it('cannot be confused by separators inside the names', () => {
    assert.notEqual(queryKey({ service: 'a', tag: 'b,c' }), queryKey({ service: 'a,b', tag: 'c' }));
  });
});
