import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MethodCallPolicy } from '../../../lib/grpc/method-call-policy';
import { callPolicySettings } from './call-policy-settings';

const settings = callPolicySettings;

describe('hedging per gRPC service', () => {
  it('hedges exactly the idempotent methods it is given', () => {
    const methods = [
      { service: 'echo.v1.Echo', method: 'Get' },
      { service: 'echo.v1.Echo', method: 'Update' },
    ];
    const config = new MethodCallPolicy(settings, methods).serviceConfig();
    assert.equal(config.methodConfig.length, 1);
    assert.deepEqual(config.methodConfig[0]?.name, methods);
    assert.equal(config.methodConfig[0]?.hedgingPolicy?.maxAttempts, 3);
    assert.deepEqual(config.methodConfig[0]?.hedgingPolicy?.nonFatalStatusCodes, ['UNAVAILABLE']);
  });

  it('hedges nothing for a service without idempotent methods, and keeps outlier ejection', () => {
    const config = new MethodCallPolicy(settings, []).serviceConfig();
    assert.deepEqual(config.methodConfig, []);
    assert.ok(JSON.stringify(config.loadBalancingConfig).includes('outlier_detection'));
  });

  it('drops hedging when the retry budget runs out, as the Greeter policy does', () => {
    const policy = new MethodCallPolicy(settings, [{ service: 'echo.v1.Echo', method: 'Get' }]);
    for (let i = 0; i < 10; i++) policy.record({ ok: false, attempts: 3 });
    assert.deepEqual(policy.serviceConfig().methodConfig, []);
  });
});
