import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { healthSyncPolicies, policyTemplate, registryPolicies, renderPolicy } from '../../../scripts/stack/acl-admin';

describe('ACL policy templates', () => {
  it('renders the shipped gateway policy as read-only on its prefix and service', () => {
    const rules = renderPolicy(policyTemplate('greeter-gateway'), {
      configPrefix: 'config/greeter-gateway/dev/',
      greeterService: 'greeter',
    });
    assert.match(rules, /key_prefix "config\/greeter-gateway\/dev\/" \{\s*policy = "read"/);
    assert.match(rules, /service "greeter" \{\s*policy = "read"/);
    assert.doesNotMatch(rules, /"write"/);
  });
  it('refuses a missing placeholder and values that could inject rules', () => {
    assert.throws(() => renderPolicy('service "{{x}}" {}', {}), /no value/);
    assert.throws(() => renderPolicy('service "{{x}}" {}', { x: 'a" { policy = "write" } #' }), /not allowed/);
  });
});

describe('per-prefix and exact-service policies', () => {
  it('refuse a prefix without a word boundary, for the registry and the health-sync probe alike', () => {
    assert.throws(() => healthSyncPolicies(['greeter']), /health-sync probe service prefix "greeter" must end with "-"/);
    assert.throws(() => registryPolicies(['ephemeral']), /registry service prefix "ephemeral" must end with "-"/);
  });
  it('grant an exact service by name only, never as a prefix that would reach greeter-gateway-lambda', () => {
    const refs = healthSyncPolicies(['ephemeral-'], ['greeter'], { allowProbing: ['greeter'] });
    assert.deepEqual(
      refs.map((r) => (typeof r === 'string' ? r : r.name)),
      ['health-sync', 'health-sync-probe-ephemeral', 'health-sync-probe-service-greeter'],
    );
    const exact = refs.find((r) => typeof r !== 'string' && r.template === 'health-sync-probe-service');
    assert.ok(exact && typeof exact !== 'string');
    const rules = renderPolicy(policyTemplate(exact.template), exact.params);
    assert.match(rules, /^service "greeter" \{\s*policy = "write"/m);
    assert.doesNotMatch(rules, /service_prefix/);
  });
  it('never lets a probe grant reach a routed service unless the operator names it', () => {
    // A probe grant is service write: on `greeter` it could register a routed instance at any address.
    assert.throws(() => healthSyncPolicies(['ephemeral-'], ['greeter']), /routed service "greeter"/);
    assert.throws(
      () => healthSyncPolicies(['green-'], [], { services: ['green-api'] }),
      /prefix "green-" covers the routed service "green-api"/,
    );
    assert.throws(() => healthSyncPolicies(['ephemeral-'], ['payments'], { services: ['payments'] }), /routed service "payments"/);
    assert.doesNotThrow(() => healthSyncPolicies(['green-'], [], { services: ['green-api'], allowProbing: ['green-api'] }));
    assert.doesNotThrow(() => healthSyncPolicies(['ephemeral-'], ['ephemeral-batch']));
  });
});
