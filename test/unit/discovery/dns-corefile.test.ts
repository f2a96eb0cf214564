// The configuration the DNS path runs with: the Corefile of the caching forwarder (one zone,
// loopback only), the metric it is measured by, and the Consul dns_config an operator sets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dnsConfigStanza } from '../../../scripts/stack/consul-agent';
import { corefile, sumMetric } from '../../../scripts/stack/coredns';

const ports = { dns: 1053, metrics: 9153, ready: 8181 };

describe('CoreDNS Corefile', () => {
  it('serves consul. only, on loopback, cached, forwarded to the given agents', () => {
    const text = corefile({ upstreams: ['127.0.0.1:8600', '127.0.0.2:8600'], cacheSeconds: 10 }, ports);
    assert.match(text, /^consul\.:1053 \{/);
    assert.equal((text.match(/^\S.*\{$/gm) ?? []).length, 1, 'one server block: other names are REFUSED');
    assert.match(text, /bind 127\.0\.0\.1/);
    assert.match(text, /prometheus 127\.0\.0\.1:9153/);
    assert.match(text, /cache 10 \{\n\s+success 9984 10 1\n\s+denial 9984 10 1\n\s+servfail 1s/);
    assert.match(text, /forward \. 127\.0\.0\.1:8600 127\.0\.0\.2:8600/);
    assert.doesNotMatch(text, /\blog\b/);
    assert.match(corefile({ upstreams: ['127.0.0.1:8600'], logQueries: true }, ports), /\n\s+log\n/);
  });

  it('refuses an upstream off the machine, and no upstream at all', () => {
    assert.throws(() => corefile({ upstreams: ['8.8.8.8:53'] }, ports), /loopback/);
    assert.throws(() => corefile({ upstreams: [] }, ports), /at least one/);
  });
});

describe('sumMetric', () => {
  it('sums the samples of a metric whose labels match', () => {
    const text = [
      '# HELP coredns_proxy_request_duration_seconds Histogram of the time each request took.',
      'coredns_proxy_request_duration_seconds_bucket{proxy_name="forward",rcode="NOERROR",to="127.0.0.1:8600",le="+Inf"} 7',
      'coredns_proxy_request_duration_seconds_count{proxy_name="forward",rcode="NOERROR",to="127.0.0.1:8600"} 7',
      'coredns_proxy_request_duration_seconds_count{proxy_name="forward",rcode="NXDOMAIN",to="127.0.0.1:8600"} 2',
      'coredns_proxy_request_duration_seconds_count{proxy_name="grpc",rcode="NOERROR",to="127.0.0.1:9"} 100',
    ].join('\n');
    assert.equal(sumMetric(text, 'coredns_proxy_request_duration_seconds_count', { proxy_name: 'forward' }), 9);
    assert.equal(sumMetric(text, 'coredns_proxy_request_duration_seconds_count', {}), 109);
    assert.equal(sumMetric(text, 'missing', {}), 0);
  });
});

describe('Consul dns_config', () => {
  it('asks for passing only, stale reads, the agent cache, truncation and short TTLs', () => {
    const hcl = dnsConfigStanza(5);
    for (const line of [
      'only_passing = true',
      'allow_stale = true',
      'use_cache = true',
      'enable_truncate = true',
      'node_ttl = "5s"',
      '"*" = "5s"',
      'min_ttl = 5',
    ])
      assert.ok(hcl.includes(line), line);
  });
});
