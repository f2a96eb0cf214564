import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../../lib/config/resolve-config';
import { greeterQuery } from '../../../lib/greeter/greet';
import { GATEWAY_KEYS } from '../../../lib/greeter/gateway-config';

const config = (raw: Record<string, string>) => resolveConfig(GATEWAY_KEYS, raw).values;

describe('greeterQuery', () => {
  it('follows the config: tag, datacenter, failover datacenters and the connect transport', () => {
    assert.deepEqual(greeterQuery(config({})), { service: 'greeter' });
    assert.deepEqual(
      greeterQuery(
        config({ greeterTag: 'v2', greeterDatacenter: 'dc2', greeterFailoverDatacenters: 'dc3,dc4', greeterTransport: 'connect' }),
      ),
      { service: 'greeter', tag: 'v2', datacenter: 'dc2', failover: ['dc3', 'dc4'], connect: true },
    );
  });

  it('is one frozen object per config object, so warm invocations key their watch and channel on it once', () => {
    const cfg = config({ greeterTag: 'v2' });
    const q = greeterQuery(cfg);
    assert.equal(greeterQuery(cfg), q);
    assert.ok(Object.isFrozen(q), 'no invocation can change what the next one asks for');
    const refreshed = config({ greeterTag: 'v3' });
    assert.notEqual(greeterQuery(refreshed), q, 'a refreshed config gets its own');
    assert.equal(greeterQuery(refreshed).tag, 'v3');
  });
});
