import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { instanceForPeer, queryKey, sameInstances, toServiceInstances } from '../../../lib/consul/service-instances';

const entry = (id: string, port: number, address = '10.0.0.1', node = 'n1') => ({
  Node: { Node: node, Address: '10.9.9.9' },
  Service: { ID: id, Service: 'greeter', Address: address, Port: port, Tags: ['v1'], Meta: { zone: 'a' } },
});

describe('toServiceInstances', () => {
  it('sorts and deduplicates so equal sets compare equal', () => {
    const a = toServiceInstances([entry('b', 2), entry('a', 1), entry('a', 1)]);
    const b = toServiceInstances([entry('a', 1), entry('b', 2)]);
    assert.deepEqual(a.map((i) => i.id), ['a', 'b']);
    assert.ok(sameInstances(a, b));
  });
  it('falls back to the node address when the service has none', () => {
    const [i] = toServiceInstances([entry('a', 1, '')]);
    assert.equal(i?.address, '10.9.9.9');
  });
  it('drops entries without a valid port or id and non-arrays', () => {
    assert.deepEqual(toServiceInstances([entry('a', 0), entry('b', 70000), { Service: { Port: 1 } }]), []);
    assert.deepEqual(toServiceInstances({ not: 'an array' }), []);
  });
  it('sees a changed port or tag as a different list', () => {
    const a = toServiceInstances([entry('a', 1)]);
    const b = toServiceInstances([entry('a', 2)]);
    assert.equal(sameInstances(a, b), false);
  });
});

describe('instanceForPeer', () => {
  const list = toServiceInstances([entry('a', 50051, '127.0.0.1'), entry('b', 50052, '::1')]);
  it('maps IPv4 and bracketed IPv6 peers', () => {
    assert.equal(instanceForPeer(list, '127.0.0.1:50051')?.id, 'a');
    assert.equal(instanceForPeer(list, '[::1]:50052')?.id, 'b');
  });
  it('returns undefined for an unknown peer', () => assert.equal(instanceForPeer(list, '127.0.0.1:1'), undefined));
});

describe('queryKey', () => {
  it('differs by tag and datacenter', () => {
    assert.notEqual(queryKey({ service: 's' }), queryKey({ service: 's', tag: 't' }));
    assert.equal(queryKey({ service: 's' }), queryKey({ service: 's', tag: '' }));
  });
});
