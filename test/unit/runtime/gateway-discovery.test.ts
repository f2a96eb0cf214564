import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createGatewayDiscovery, DEFAULT_CLOUDMAP_POLL_MS } from '../../../lib/runtime/gateway-discovery';
import { silentLog } from '../../../lib/log/logger';
import { consulError, FakeConsul } from '../helpers/fake-consul';

const Q = { service: 'greeter' };

describe('createGatewayDiscovery', () => {
  it('reads Consul alone by default: no fallback, every query served by consul', () => {
    const d = createGatewayDiscovery({ source: 'consul', fallbacks: [], dnsServers: [] }, new FakeConsul(), silentLog);
    assert.equal(d.source.name, 'consul');
    assert.equal(d.fallback, undefined);
    assert.equal(d.servedBy(Q), 'consul');
    assert.deepEqual(d.snapshot(), { source: 'consul', fallbacks: [] });
    d.close();
  });

  it('builds the Cloud Map mirror as the fallback, loading nothing before the first poll, and reports both', async () => {
    const consul = new FakeConsul();
    consul.failOn(/^consul\.health/, consulError('consul.health.service', undefined, 'connect ECONNREFUSED 127.0.0.1:8500'));
    // Nothing listens on port 9: the mirror gives no answer either.
    const d = createGatewayDiscovery(
      {
        source: 'consul',
        fallbacks: ['cloudmap'],
        dnsServers: [],
        cloudMap: { namespace: 'ns', region: 'us-east-1', endpoint: 'http://127.0.0.1:9' },
      },
      consul,
      silentLog,
    );
    assert.equal(d.source.name, 'consul', 'the wrapped source keeps the primary name');
    assert.equal(d.servedBy(Q), undefined, 'nothing served yet');
    assert.equal(d.snapshot().cloudMapCalls, 0);
    await assert.rejects(
      d.source.passingInstances(Q, undefined, 30, new AbortController().signal),
      /ECONNREFUSED/,
      'the primary error when no source answers',
    );
    const snap = d.snapshot();
    assert.equal(snap.cloudMapCalls, 1, 'the mirror was asked');
    assert.deepEqual(snap.fallbacks, ['cloudmap']);
    assert.ok(snap.fallback?.primaryDownSince);
    assert.equal(snap.fallback?.active, 'consul');
    d.close();
  });
});

describe('the Cloud Map default poll interval', () => {
  it('follows from the quota: 2,500 environments × 1 service within half of 1,000 calls/s is 5 s', () => {
    assert.equal(DEFAULT_CLOUDMAP_POLL_MS, 5_000);
  });
});

describe('createGatewayDiscovery with dns', () => {
  it('builds the DNS source on the configured resolvers, with Consul as its fallback', () => {
    const d = createGatewayDiscovery({ source: 'dns', fallbacks: ['consul'], dnsServers: ['127.0.0.1:8600'] }, new FakeConsul(), silentLog);
    assert.equal(d.source.name, 'dns');
    const snap = d.snapshot();
    assert.deepEqual([snap.source, snap.fallbacks, snap.dnsServers, snap.dnsLookups], ['dns', ['consul'], ['127.0.0.1:8600'], 0]);
    d.close();
  });
});
