import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toServiceInstances } from '../../../lib/consul/service-instances';

const entry = (id: string, port: number, address = '10.0.0.1', node = 'n1') => ({
  Node: { Node: node, Address: '10.9.9.9' },
  Service: { ID: id, Service: 'greeter', Address: address, Port: port, Tags: ['v1'], Meta: { zone: 'a' } },
});

describe('toServiceInstances', () => {
  it('sorts and deduplicates so equal sets give equal lists', () => {
    const a = toServiceInstances([entry('b', 2), entry('a', 1), entry('a', 1)]);
    const b = toServiceInstances([entry('a', 1), entry('b', 2)]);
    assert.deepEqual(
      a.map((i) => i.id),
      ['a', 'b'],
    );
    assert.deepEqual(a, b);
  });

  it('keeps the same service id on two nodes as two instances', () => {
    const list = toServiceInstances([entry('a', 1, '10.0.0.1', 'n1'), entry('a', 1, '10.0.0.1', 'n2')]);
    assert.deepEqual(
      list.map((i) => i.node),
      ['n1', 'n2'],
    );
  });

  it('copies id, service, address, port, tags, meta and node', () => {
    assert.deepEqual(toServiceInstances([entry('a', 1)]), [
      { id: 'a', service: 'greeter', address: '10.0.0.1', port: 1, tags: ['v1'], meta: { zone: 'a' }, node: 'n1' },
    ]);
  });

  it('falls back to the node address when the service has none', () => {
    const [i] = toServiceInstances([entry('a', 1, '')]);
    assert.equal(i?.address, '10.9.9.9');
  });

  it('drops entries without a valid port or id, and anything that is not an array', () => {
    assert.deepEqual(toServiceInstances([entry('a', 0), entry('b', 70000), entry('c', 1.5), { Service: { Port: 1 } }, null]), []);
    assert.deepEqual(toServiceInstances({ not: 'an array' }), []);
  });

  it('drops non-string tags and meta that is not all strings', () => {
    const raw = { Node: { Node: 'n' }, Service: { ID: 'a', Service: 'g', Address: '10.0.0.1', Port: 1, Tags: ['ok', 7], Meta: { n: 1 } } };
    const [i] = toServiceInstances([raw]);
    assert.deepEqual(i?.tags, ['ok']);
    assert.deepEqual(i?.meta, {});
  });
});
