import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  INIT_HEALTH_KEY,
  MAX_ATTRIBUTES,
  MAX_TOTAL_CHARS,
  MAX_VALUE_LENGTH,
  instanceAttributes,
  isPrivateMeta,
  sameAttributes,
} from '../../../lib/cloudmap/attributes';
import type { DesiredInstance } from '../../../lib/cloudmap/types';
import { REGISTRATION_META } from '../../../lib/consul/registration-meta';

const inst = (o: Partial<DesiredInstance> = {}): DesiredInstance => ({
  id: 'i-1',
  ipv4: '10.0.0.1',
  port: 50051,
  tags: [],
  meta: {},
  healthy: true,
  ...o,
});
const size = (a: Record<string, string>) => Object.entries(a).reduce((n, [k, v]) => n + k.length + v.length, 0);

describe('instanceAttributes', () => {
  it('carries the address and port as the reserved AWS attributes', () => {
    assert.deepEqual(instanceAttributes(inst()), { attributes: { AWS_INSTANCE_IPV4: '10.0.0.1', AWS_INSTANCE_PORT: '50051' }, dropped: 0 });
  });

  it('joins tags sorted and deduplicated and prefixes meta keys', () => {
    const { attributes, dropped } = instanceAttributes(inst({ tags: ['v2', 'blue', 'v2'], meta: { zone: 'a', version: '1.2' } }));
    assert.equal(dropped, 0);
    assert.equal(attributes['consul-tags'], 'blue,v2');
    assert.equal(attributes['consul-meta-version'], '1.2');
    assert.equal(attributes['consul-meta-zone'], 'a');
  });

  it('is deterministic whatever the input order', () => {
    const a = instanceAttributes(inst({ tags: ['b', 'a'], meta: { y: '2', x: '1' } }));
    const b = instanceAttributes(inst({ tags: ['a', 'b'], meta: { x: '1', y: '2' } }));
    assert.deepEqual(Object.entries(a.attributes), Object.entries(b.attributes));
    const keys = Object.keys(a.attributes);
    assert.deepEqual(keys, [...keys].sort());
  });

  it('drops tags that contain a comma or are not printable ASCII', () => {
    const { attributes, dropped } = instanceAttributes(inst({ tags: ['ok', 'a,b', 'héllo', ' lead', ''] }));
    assert.equal(attributes['consul-tags'], 'ok');
    assert.equal(dropped, 4);
  });

  // Security review: the registry's own lease-* meta (check kind, TTL, idempotency digest) is
  // hidden from GET /instances but reached Cloud Map as consul-meta-lease-* attributes.
  it("never publishes the registry's private lease-* meta, in any case, and does not count it as dropped", () => {
    const registryMeta = Object.fromEntries(Object.values(REGISTRATION_META).map((k) => [k, 'x']));
    const { attributes, dropped } = instanceAttributes(
      inst({ meta: { ...registryMeta, 'LEASE-Other': 'y', 'Lease-x': 'z', version: '1.2', leased: 'kept', 'x-lease-y': 'kept' } }),
    );
    assert.deepEqual(attributes, {
      AWS_INSTANCE_IPV4: '10.0.0.1',
      AWS_INSTANCE_PORT: '50051',
      'consul-meta-leased': 'kept',
      'consul-meta-version': '1.2',
      'consul-meta-x-lease-y': 'kept',
    });
    assert.equal(dropped, 0);
  });

  it('covers every key of REGISTRATION_META (the contract it keeps private)', () => {
    for (const key of Object.values(REGISTRATION_META)) assert.equal(isPrivateMeta(key), true, key);
  });

  it('makes the next run re-register an instance that still carries leaked lease-* attributes', () => {
    const d = inst({ meta: { [REGISTRATION_META.check]: 'grpc', version: '1' } });
    const leaked = {
      ...instanceAttributes(inst({ meta: { version: '1' } })).attributes,
      [`consul-meta-${REGISTRATION_META.check}`]: 'grpc',
    };
    assert.equal(sameAttributes(instanceAttributes(d).attributes, leaked), false);
  });

  it('does not let private meta use up the attribute budget', () => {
    const lease = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`lease-${String(i).padStart(2, '0')}`, 'v'.repeat(900)]));
    const { attributes, dropped } = instanceAttributes(inst({ meta: { ...lease, zone: 'a' } }));
    assert.equal(attributes['consul-meta-zone'], 'a');
    assert.equal(dropped, 0);
  });

  it('drops meta entries whose key or value Cloud Map would reject', () => {
    const meta = { 'has space': 'x', ok: 'fine value', ['k'.repeat(250)]: 'x', long: 'v'.repeat(MAX_VALUE_LENGTH + 1), tab: 'trailing\t' };
    const { attributes, dropped } = instanceAttributes(inst({ meta }));
    assert.equal(attributes['consul-meta-ok'], 'fine value');
    assert.equal(dropped, 4);
  });

  it('keeps at most 30 attributes, leaving room for AWS_INIT_HEALTH_STATUS', () => {
    const meta = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${String(i).padStart(2, '0')}`, 'v']));
    const { attributes, dropped } = instanceAttributes(inst({ meta }));
    assert.equal(Object.keys(attributes).length, MAX_ATTRIBUTES - 1);
    assert.equal(dropped, 40 - (MAX_ATTRIBUTES - 3));
    assert.ok('consul-meta-k00' in attributes, 'the first keys in sort order are kept');
    assert.ok(!('consul-meta-k39' in attributes));
  });

  it('stays within the 5,000-character request limit, counting AWS_INIT_HEALTH_STATUS', () => {
    const meta = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'v'.repeat(1000)]));
    const { attributes, dropped } = instanceAttributes(inst({ meta }));
    assert.ok(size({ ...attributes, [INIT_HEALTH_KEY]: 'UNHEALTHY' }) <= MAX_TOTAL_CHARS);
    assert.equal(dropped, 6);
  });

  it('keeps the tags value within 1,024 characters by dropping the tags that do not fit', () => {
    const tags = Array.from({ length: 100 }, (_, i) => `tag-${String(i).padStart(3, '0')}-${'x'.repeat(10)}`);
    const { attributes, dropped } = instanceAttributes(inst({ tags }));
    const value = attributes['consul-tags'] ?? '';
    assert.ok(value.length <= MAX_VALUE_LENGTH);
    assert.equal(value.split(',').length + dropped, 100);
  });
});

describe('sameAttributes', () => {
  it('ignores AWS_INIT_HEALTH_STATUS, which only matters at registration', () => {
    assert.equal(sameAttributes({ a: '1' }, { a: '1', [INIT_HEALTH_KEY]: 'UNHEALTHY' }), true);
  });

  it('sees a changed, added or removed attribute', () => {
    assert.equal(sameAttributes({ a: '1' }, { a: '2' }), false);
    assert.equal(sameAttributes({ a: '1' }, { a: '1', b: '2' }), false);
    assert.equal(sameAttributes({ a: '1', b: '2' }, { a: '1' }), false);
  });
});
