import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../../lib/config/resolve-config';
import { RegistryError } from '../../../lib/registry/errors';
import { REGISTRY_KEYS, type RegistryConfig } from '../../../lib/registry/registry-config';
import { listQuery, policyFromConfig } from '../../../lib/registry/registry-policy';
import { parseRegistration } from '../../../lib/registry/registration-request';

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
    assert.deepEqual(policyFromConfig(config({ ttlMinSeconds: '600', ttlMaxSeconds: '30', ttlDefaultSeconds: '5' })).ttlSeconds, {
      min: 30,
      max: 600,
      default: 30,
    });
    assert.deepEqual(policyFromConfig(config({ ttlMinSeconds: '10', ttlMaxSeconds: '20', ttlDefaultSeconds: '60' })).ttlSeconds, {
      min: 10,
      max: 20,
      default: 20,
    });
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

// Issue 10 part 3: an API-key holder must not take over routed traffic or fake a lease.
describe('service names the API may register (traffic takeover)', () => {
  const base = { address: '10.1.2.3', port: 8080 };
  const refusal = (raw: Record<string, string>, service: string): string | undefined => {
    try {
      parseRegistration({ ...base, service }, policyFromConfig(config(raw)));
      return undefined;
    } catch (err) {
      assert.ok(err instanceof RegistryError && err.kind === 'invalid_request', String(err));
      return err.message;
    }
  };

  it('rejects a prefix without its "-" boundary as an invalid value: the key falls back to its default', () => {
    const resolved = resolveConfig(REGISTRY_KEYS, { allowedServicePrefixes: 'ephemeral-,greeter' });
    assert.deepEqual(resolved.values.allowedServicePrefixes, ['ephemeral-']);
    assert.equal(resolved.sources.allowedServicePrefixes, 'default (invalid kv value)');
    assert.match(resolved.problems.find((p) => p.key === 'allowedServicePrefixes')?.reason ?? '', /end with -/);
  });

  it('refuses the routed greeter, a fake gateway lease and greeterx under the old local-stack config', () => {
    const oldLocal = { allowedServicePrefixes: 'ephemeral-,greeter' };
    for (const service of ['greeter', 'greeter-gateway-lambda', 'greeterx'])
      assert.ok(refusal(oldLocal, service), `${service} must be refused`);
    assert.equal(refusal(oldLocal, 'ephemeral-job'), undefined);
  });

  it('refuses every -lambda lease and every protected name even under an allowed prefix', () => {
    const wide = { allowedServicePrefixes: 'greeter-,instance-,health-,ephemeral-' };
    for (const service of ['greeter-gateway-lambda', 'instance-registry-lambda', 'health-sync-lambda', 'ephemeral-x-lambda'])
      assert.match(refusal(wide, service) ?? '', /-lambda/, service);
    assert.match(
      refusal({ allowedServicePrefixes: 'ephemeral-', protectedServices: 'ephemeral-greeter' }, 'ephemeral-greeter') ?? '',
      /protected/,
    );
    assert.equal(refusal(wide, 'greeter-v2'), undefined, 'an ordinary name under a prefix is fine');
  });

  it('opens a protected name only when listed exactly in allowedServices', () => {
    const local = { allowedServicePrefixes: 'ephemeral-', allowedServices: 'greeter' };
    assert.equal(refusal(local, 'greeter'), undefined);
    for (const service of ['greeterx', 'greeter-gateway-lambda', 'greeter-2'])
      assert.match(refusal(local, service) ?? '', /start with one of: ephemeral- or be one of: greeter/, service);
    assert.equal(
      refusal({ allowedServicePrefixes: 'ephemeral-', allowedServices: 'greeter-gateway-lambda' }, 'greeter-gateway-lambda'),
      undefined,
      'an operator may name even a lease, exactly',
    );
  });

  it('lists only names the API may register', () => {
    const cfg = config({ allowedServicePrefixes: 'ephemeral-,greeter-', allowedServices: 'greeter' });
    assert.equal(listQuery('greeter', cfg), 'greeter');
    invalid(() => listQuery('greeter-gateway-lambda', cfg), /-lambda/);
    invalid(() => listQuery('greeter', config({ allowedServicePrefixes: 'ephemeral-,greeter' })), /start with one of: ephemeral-/);
  });
});
