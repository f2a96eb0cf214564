import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readDiscoveryEnvironment } from '../../../lib/config/environment';
import { ConfigError } from '../../../lib/config/errors';

const fails = (env: NodeJS.ProcessEnv, variable: string) =>
  assert.throws(
    () => readDiscoveryEnvironment(env),
    (err: unknown) => err instanceof ConfigError && err.message.includes(variable),
    `expected a ConfigError naming ${variable}`,
  );

describe('readDiscoveryEnvironment', () => {
  it('defaults to consul with no fallback; empty values (serverless params) are unset', () => {
    assert.deepEqual(readDiscoveryEnvironment({}), { source: 'consul', fallbacks: [], dnsServers: [] });
    assert.deepEqual(
      readDiscoveryEnvironment({
        DISCOVERY_SOURCE: '',
        DISCOVERY_FALLBACK: '',
        CONSUL_DNS_ADDR: '',
        CLOUDMAP_NAMESPACE: '',
        CLOUDMAP_POLL_SECONDS: '',
      }),
      { source: 'consul', fallbacks: [], dnsServers: [] },
    );
  });

  it('reads dns with its resolvers and a cloudmap fallback with region, endpoint and interval', () => {
    const env = readDiscoveryEnvironment({
      DISCOVERY_SOURCE: 'dns',
      DISCOVERY_FALLBACK: 'cloudmap, consul',
      CONSUL_DNS_ADDR: '127.0.0.1:8600, [::1]:53',
      CLOUDMAP_NAMESPACE: 'greeters.local',
      CLOUDMAP_ENDPOINT: 'http://127.0.0.1:5000',
      CLOUDMAP_POLL_SECONDS: '7',
      AWS_REGION: 'eu-west-1',
    });
    assert.deepEqual(env, {
      source: 'dns',
      fallbacks: ['cloudmap', 'consul'],
      dnsServers: ['127.0.0.1:8600', '[::1]:53'],
      cloudMap: { namespace: 'greeters.local', region: 'eu-west-1', endpoint: 'http://127.0.0.1:5000', pollSeconds: 7 },
    });
    assert.equal(
      readDiscoveryEnvironment({ DISCOVERY_SOURCE: 'cloudmap', CLOUDMAP_NAMESPACE: 'n', CLOUDMAP_REGION: 'us-west-2' }).cloudMap?.region,
      'us-west-2',
    );
    // A gateway with greeterDatacenter set asks for that datacenter by name: the mirror must say it holds it.
    assert.equal(
      readDiscoveryEnvironment({ DISCOVERY_SOURCE: 'cloudmap', CLOUDMAP_NAMESPACE: 'n', CLOUDMAP_DATACENTER: 'eu-1' }).cloudMap?.datacenter,
      'eu-1',
    );
    assert.equal(readDiscoveryEnvironment({ DISCOVERY_SOURCE: 'cloudmap', CLOUDMAP_NAMESPACE: 'n' }).cloudMap?.datacenter, undefined);
  });

  it('names the variable of a bad or missing value', () => {
    fails({ DISCOVERY_SOURCE: 'etcd' }, 'DISCOVERY_SOURCE');
    fails({ DISCOVERY_FALLBACK: 'cloudmap,zookeeper', CLOUDMAP_NAMESPACE: 'n' }, 'DISCOVERY_FALLBACK');
    fails({ DISCOVERY_FALLBACK: 'consul' }, 'DISCOVERY_FALLBACK');
    fails({ DISCOVERY_FALLBACK: 'cloudmap,cloudmap', CLOUDMAP_NAMESPACE: 'n' }, 'DISCOVERY_FALLBACK');
    fails({ DISCOVERY_SOURCE: 'dns' }, 'CONSUL_DNS_ADDR');
    fails({ DISCOVERY_SOURCE: 'dns', CONSUL_DNS_ADDR: 'consul.internal:53' }, 'CONSUL_DNS_ADDR');
    fails({ DISCOVERY_FALLBACK: 'cloudmap' }, 'CLOUDMAP_NAMESPACE');
    fails({ DISCOVERY_SOURCE: 'cloudmap', CLOUDMAP_NAMESPACE: 'n', CLOUDMAP_POLL_SECONDS: '0' }, 'CLOUDMAP_POLL_SECONDS');
    fails({ DISCOVERY_SOURCE: 'cloudmap', CLOUDMAP_NAMESPACE: 'n', CLOUDMAP_POLL_SECONDS: 'soon' }, 'CLOUDMAP_POLL_SECONDS');
    fails({ DISCOVERY_SOURCE: 'cloudmap', CLOUDMAP_NAMESPACE: 'n', CLOUDMAP_ENDPOINT: 'ftp://x' }, 'CLOUDMAP_ENDPOINT');
    fails({ DISCOVERY_SOURCE: 'cloudmap', CLOUDMAP_NAMESPACE: 'n', CLOUDMAP_DATACENTER: 'dc 1' }, 'CLOUDMAP_DATACENTER');
  });

  it('ignores the settings of sources not in use', () => {
    assert.deepEqual(readDiscoveryEnvironment({ CONSUL_DNS_ADDR: '127.0.0.1:53', CLOUDMAP_NAMESPACE: 'n' }), {
      source: 'consul',
      fallbacks: [],
      dnsServers: [],
    });
  });
});
