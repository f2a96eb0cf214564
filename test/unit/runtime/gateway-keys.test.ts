import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GATEWAY_KEYS } from '../../../lib/greeter/gateway-config';
import { RPC_KEYS } from '../../../lib/rpc/rpc-config';
import { CALL_KEYS, callPolicySettings, presentedIdentity, watchSettings } from '../../../lib/runtime/gateway-keys';

const defaults = Object.fromEntries(Object.entries(CALL_KEYS).map(([k, s]) => [k, s.default])) as unknown as Parameters<
  typeof callPolicySettings
>[0];

describe('CALL_KEYS', () => {
  it('are the very specs greet and rpc read (one rule, default and doc per key)', () => {
    for (const [key, spec] of Object.entries(CALL_KEYS)) {
      assert.equal(GATEWAY_KEYS[key as keyof typeof GATEWAY_KEYS], spec, `greet's ${key}`);
      assert.equal(RPC_KEYS[key as keyof typeof RPC_KEYS], spec, `rpc's ${key}`);
    }
  });

  it('give the call policy and the watches their settings, and the identity falls back to the lease service', () => {
    const v = { ...defaults, leaseService: 'rpc-gateway-lambda' };
    assert.deepEqual(callPolicySettings(v), {
      maxAttempts: 3,
      hedgeMinDelayMs: 20,
      hedgeMaxDelayMs: 200,
      ejectionFailurePercent: 50,
      ejectionMinRequests: 10,
      ejectionBaseMs: 30_000,
    });
    assert.deepEqual(watchSettings(v), { waitSeconds: 30, minIntervalMs: 500, backoffBaseMs: 250, backoffMaxMs: 10_000 });
    assert.equal(presentedIdentity(v), 'rpc-gateway-lambda');
    assert.equal(presentedIdentity({ ...v, gatewayIdentity: 'edge' }), 'edge');
  });
});
