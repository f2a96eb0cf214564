import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultKvEntries, resolveConfig } from '../../../lib/config/resolve-config';
import { GATEWAY_KEYS } from '../../../lib/greeter/gateway-config';

describe('GATEWAY_KEYS', () => {
  it('has defaults that pass their own rules, written to K/V and read back unchanged', () => {
    const r = resolveConfig(GATEWAY_KEYS, defaultKvEntries(GATEWAY_KEYS));
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.values, resolveConfig(GATEWAY_KEYS, {}).values);
    assert.ok(Object.values(r.sources).every((s) => s === 'kv'));
  });

  it('carries the discovery backoff keys with their defaults', () => {
    const v = resolveConfig(GATEWAY_KEYS, {}).values;
    assert.deepEqual({ base: v.discoveryBackoffBaseMs, max: v.discoveryBackoffMaxMs }, { base: 250, max: 10_000 });
  });

  it('bounds the discovery backoff keys', () => {
    const ok = resolveConfig(GATEWAY_KEYS, { discoveryBackoffBaseMs: '10', discoveryBackoffMaxMs: '300000' });
    assert.deepEqual(ok.problems, []);
    assert.deepEqual([ok.values.discoveryBackoffBaseMs, ok.values.discoveryBackoffMaxMs], [10, 300_000]);
    const bad = resolveConfig(GATEWAY_KEYS, { discoveryBackoffBaseMs: '9', discoveryBackoffMaxMs: '300001' });
    assert.deepEqual(bad.problems.map((p) => p.key).sort(), ['discoveryBackoffBaseMs', 'discoveryBackoffMaxMs']);
    assert.deepEqual([bad.values.discoveryBackoffBaseMs, bad.values.discoveryBackoffMaxMs], [250, 10_000]);
  });

  it('carries the shared runtime keys with the gateway lease service name', () => {
    const v = resolveConfig(GATEWAY_KEYS, {}).values;
    assert.equal(v.leaseService, 'greeter-gateway-lambda');
    assert.equal(v.configMaxAgeSeconds, 60);
  });
});
