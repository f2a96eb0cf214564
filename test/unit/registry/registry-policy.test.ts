import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../../lib/config/resolve-config';
import { RegistryError } from '../../../lib/registry/errors';
import { REGISTRY_KEYS, type RegistryConfig } from '../../../lib/registry/registry-config';
import { listQuery, policyFromConfig } from '../../../lib/registry/registry-policy';

const config = (raw: Record<string, string> = {}): RegistryConfig => resolveConfig(REGISTRY_KEYS, raw).values;

function invalid(fn: () => unknown, message: RegExp) {
  assert.throws(fn, (err: unknown) => err instanceof RegistryError && err.kind === 'invalid_request' && message.test(err.message));
}

describe('policyFromConfig', () => {
  it('builds the policy once per config object', () => {
    const cfg = config();
    assert.equal(policyFromConfig(cfg), policyFromConfig(cfg));
    assert.notEqual(policyFromConfig(config()), policyFromConfig(cfg));
  });

  it('carries the prefixes and the address rules of the config', () => {
    const p = policyFromConfig(config({ allowedServicePrefixes: 'job-,batch-', allowedCidrs: '10.0.0.0/8', allowLoopback: 'true' }));
    assert.deepEqual(p.allowedServicePrefixes, ['job-', 'batch-']);
    assert.equal(p.address.check('10.1.2.3').ok, true);
    assert.equal(p.address.check('127.0.0.1').ok, false, 'loopback must also be inside an allowed CIDR');
    assert.equal(p.address.check('192.168.1.1').ok, false);
  });

  it('orders swapped TTL bounds and keeps the default inside them', () => {
    assert.deepEqual(policyFromConfig(config({ ttlMinSeconds: '600', ttlMaxSeconds: '30', ttlDefaultSeconds: '5' })).ttlSeconds, { min: 30, max: 600, default: 30 });
    assert.deepEqual(policyFromConfig(config({ ttlMinSeconds: '10', ttlMaxSeconds: '20', ttlDefaultSeconds: '60' })).ttlSeconds, { min: 10, max: 20, default: 20 });
    assert.deepEqual(policyFromConfig(config()).ttlSeconds, { min: 10, max: 3_600, default: 60 });
  });
});

describe('listQuery', () => {
  const cfg = config({ allowedServicePrefixes: 'ephemeral-' });

  it('returns a well-formed service inside the allowed prefixes', () => {
    assert.equal(listQuery('ephemeral-job', cfg), 'ephemeral-job');
  });

  it('refuses a missing, malformed or foreign service as an invalid request', () => {
    invalid(() => listQuery(undefined, cfg), /service is required/);
    invalid(() => listQuery('', cfg), /service is required/);
    invalid(() => listQuery('Ephemeral_Job', cfg), /DNS-style/);
    invalid(() => listQuery('greeter', cfg), /start with one of: ephemeral-/);
  });
});
