import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { policyTemplate, renderPolicy } from '../../../lib/consul/acl-admin';

describe('ACL policy templates', () => {
  it('renders the shipped gateway policy as read-only on its prefix and service', () => {
    const rules = renderPolicy(policyTemplate('greeter-gateway'), { configPrefix: 'config/greeter-gateway/dev/', greeterService: 'greeter' });
    assert.match(rules, /key_prefix "config\/greeter-gateway\/dev\/" \{\s*policy = "read"/);
    assert.match(rules, /service "greeter" \{\s*policy = "read"/);
    assert.doesNotMatch(rules, /"write"/);
  });
  it('refuses a missing placeholder and values that could inject rules', () => {
    assert.throws(() => renderPolicy('service "{{x}}" {}', {}), /no value/);
    assert.throws(() => renderPolicy('service "{{x}}" {}', { x: 'a" { policy = "write" } #' }), /not allowed/);
  });
});
