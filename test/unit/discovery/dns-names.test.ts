// Pure parts of the DNS source: the names it asks, how answers become instances, the refresh
// timing that follows from their TTL, and how resolver errors are typed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DnsLookupError, isNoRecords, toDnsLookupError } from '../../../lib/discovery/srv-errors';
import { nodeOfTarget, srvName } from '../../../lib/discovery/srv-names';
import { answerTtlSeconds, refreshDelayMs, toDnsInstances, type AddressRecord } from '../../../lib/discovery/srv-records';

const codeError = (code: string) => Object.assign(new Error(`query ${code}`), { code });

describe('srvName', () => {
  it('spells Consul lookups with and without tag and datacenter', () => {
    assert.equal(srvName({ service: 'greeter' }), 'greeter.service.consul');
    assert.equal(srvName({ service: 'greeter', tag: 'v1' }), 'v1.greeter.service.consul');
    assert.equal(srvName({ service: 'greeter', datacenter: 'dc2' }), 'greeter.service.dc2.consul');
    assert.equal(srvName({ service: 'greeter', tag: 'v1', datacenter: 'dc2' }, 'consul', 'example'), 'v1.greeter.service.dc2.example');
  });

  it('spells the RFC 2782 form, with _tcp standing for "no tag"', () => {
    assert.equal(srvName({ service: 'greeter', tag: 'v1' }, 'rfc2782'), '_greeter._v1.service.consul');
    assert.equal(srvName({ service: 'greeter' }, 'rfc2782'), '_greeter._tcp.service.consul');
    assert.equal(srvName({ service: 'greeter', tag: 'v1', datacenter: 'dc2' }, 'rfc2782'), '_greeter._v1.service.dc2.consul');
    assert.throws(
      () => srvName({ service: 'greeter', tag: 'tcp' }, 'rfc2782'),
      (e: unknown) => e instanceof DnsLookupError && e.kind === 'invalid_name',
    );
  });

  it('asks Connect instances through <service>.connect, which takes no tag', () => {
    assert.equal(srvName({ service: 'greeter', connect: true }), 'greeter.connect.consul');
    assert.equal(srvName({ service: 'greeter', connect: true, datacenter: 'dc2' }, 'rfc2782'), 'greeter.connect.dc2.consul');
    assert.throws(
      () => srvName({ service: 'greeter', connect: true, tag: 'v1' }),
      (e: unknown) => e instanceof DnsLookupError && e.kind === 'invalid_name' && !e.noAnswer,
    );
  });

  it('refuses what is not one DNS label', () => {
    for (const q of [
      { service: 'a.b' },
      { service: '' },
      { service: 'greeter', tag: 'has space' },
      { service: 'greeter', datacenter: 'dc.2' },
      { service: 'x'.repeat(64) },
    ]) {
      assert.throws(() => srvName(q), DnsLookupError, JSON.stringify(q));
    }
  });
});

describe('nodeOfTarget', () => {
  it('reads the node from a .node. target and keeps an .addr. target whole', () => {
    assert.equal(nodeOfTarget('web-1.node.dc1.consul.'), 'web-1');
    assert.equal(nodeOfTarget('web-1.node.consul'), 'web-1');
    assert.equal(nodeOfTarget('7f000001.addr.dc1.consul'), '7f000001.addr.dc1.consul');
  });
});

describe('toDnsInstances', () => {
  const addrs = new Map<string, AddressRecord[]>([
    ['n2.node.dc1.consul', [{ address: '10.0.0.2', ttl: 5 }]],
    ['0a000001.addr.dc1.consul', [{ address: '10.0.0.1', ttl: 4 }]],
    ['v6.node.dc1.consul', [{ address: '::1', ttl: 9 }]],
  ]);

  it('maps records to sorted, deduplicated instances with address:port ids', () => {
    const records = [
      { name: 'n2.node.dc1.consul', port: 7000, priority: 1, weight: 1 },
      { name: '0a000001.addr.dc1.consul', port: 7001, priority: 1, weight: 1 },
      { name: '0a000001.addr.dc1.consul', port: 7001, priority: 1, weight: 1 },
      { name: 'v6.node.dc1.consul', port: 7002, priority: 1, weight: 1 },
      { name: 'gone.node.dc1.consul', port: 7003, priority: 1, weight: 1 },
      { name: 'n2.node.dc1.consul', port: 0, priority: 1, weight: 1 },
    ];
    const list = toDnsInstances({ service: 'greeter', tag: 'v1' }, records, addrs);
    // Code-unit order of the address (digits before '['), as every discovery source sorts.
    assert.deepEqual(
      list.map((i) => i.id),
      ['10.0.0.1:7001', '10.0.0.2:7000', '[::1]:7002'],
    );
    assert.deepEqual(list[1], {
      id: '10.0.0.2:7000',
      service: 'greeter',
      address: '10.0.0.2',
      port: 7000,
      tags: ['v1'],
      meta: {},
      node: 'n2',
    });
    assert.equal(list[0]?.node, '0a000001.addr.dc1.consul');
    // The order of the answer does not matter.
    assert.deepEqual(toDnsInstances({ service: 'greeter', tag: 'v1' }, [...records].reverse(), addrs), list);
  });

  it('gives no tags for an untagged query', () => {
    assert.deepEqual(
      toDnsInstances({ service: 'greeter' }, [{ name: 'n2.node.dc1.consul', port: 1, priority: 1, weight: 1 }], addrs)[0]?.tags,
      [],
    );
  });

  it('takes the smallest TTL of the addresses', () => {
    assert.equal(answerTtlSeconds(addrs), 4);
    assert.equal(answerTtlSeconds(new Map()), undefined);
  });
});

describe('refreshDelayMs', () => {
  const timing = { minRefreshMs: 1_000, maxRefreshMs: 30_000, emptyRefreshMs: 2_000, jitterMs: 1_000 };

  it('follows the TTL, lengthened (never shortened) by up to jitterMs', () => {
    assert.equal(refreshDelayMs(5, timing, 0), 5_000);
    assert.equal(refreshDelayMs(5, timing, 0.5), 5_500);
    assert.ok(refreshDelayMs(5, timing, 0.999) < 6_000);
  });

  it('stays within min and max, and uses the empty delay without a TTL', () => {
    assert.equal(refreshDelayMs(0, timing, 0), 1_000);
    assert.equal(refreshDelayMs(0, timing, 0.5), 1_000);
    assert.equal(refreshDelayMs(3600, timing, 0.9), 30_000);
    assert.equal(refreshDelayMs(undefined, timing, 0), 2_000);
    assert.equal(refreshDelayMs(undefined, timing, 0.5), 2_500);
  });
});

describe('DNS errors', () => {
  it('types resolver errors and says which mean "no answer"', () => {
    const cases: [string, string, boolean][] = [
      ['ETIMEOUT', 'unreachable', true],
      ['ECONNREFUSED', 'unreachable', true],
      ['ESERVFAIL', 'server_failure', true],
      ['EREFUSED', 'refused', false],
      ['EBADRESP', 'failed', false],
    ];
    for (const [code, kind, noAnswer] of cases) {
      const e = toDnsLookupError(codeError(code), 'greeter.service.consul', ['127.0.0.1:53']);
      assert.equal(e.kind, kind, code);
      assert.equal(e.noAnswer, noAnswer, code);
      assert.equal(e.code, code);
      assert.equal(e.domain, 'discovery');
      assert.match(e.message, /greeter\.service\.consul at 127\.0\.0\.1:53/);
    }
  });

  it('reads NXDOMAIN and NODATA as "no records"', () => {
    assert.ok(isNoRecords(codeError('ENOTFOUND')));
    assert.ok(isNoRecords(codeError('ENODATA')));
    assert.ok(!isNoRecords(codeError('ESERVFAIL')));
    assert.ok(!isNoRecords(new Error('x')));
  });
});
