import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { safeParse } from 'zod/mini';
import type { KeySpecs } from '../../../lib/config/key-specs';
import { defaultKvEntries, defaultText, relativeKeys, resolveConfig } from '../../../lib/config/resolve-config';
import { GATEWAY_KEYS } from '../../../lib/greeter/gateway-config';
import { HEALTH_SYNC_KEYS } from '../../../lib/health-sync/health-sync-config';
import { REGISTRY_KEYS } from '../../../lib/registry/registry-config';
import { RPC_KEYS } from '../../../lib/rpc/rpc-config';

/** Every function's key set: resolveConfig takes a value written as its default without running the rule. */
const KEY_SETS: Record<string, KeySpecs> = { GATEWAY_KEYS, RPC_KEYS, REGISTRY_KEYS, HEALTH_SYNC_KEYS };

describe('resolveConfig', () => {
  it('uses every default when K/V is empty', () => {
    const r = resolveConfig(GATEWAY_KEYS, {});
    assert.equal(r.values.callDeadlineMs, GATEWAY_KEYS.callDeadlineMs.default);
    assert.equal(r.sources.callDeadlineMs, 'default');
    assert.deepEqual(r.problems, []);
  });
  it('takes valid K/V values, typed', () => {
    const r = resolveConfig(GATEWAY_KEYS, { callDeadlineMs: ' 1500 ', greeterService: 'billing', greeterTag: 'v2' });
    assert.equal(r.values.callDeadlineMs, 1500);
    assert.equal(r.values.greeterService, 'billing');
    assert.equal(r.sources.greeterTag, 'kv');
  });
  it('falls back per key on a bad value and names the key and the reason', () => {
    const r = resolveConfig(GATEWAY_KEYS, {
      maxAttempts: '0',
      callDeadlineMs: 'fast',
      greeterService: 'Bad_Name',
      discoveryWaitSeconds: '20',
    });
    assert.equal(r.values.maxAttempts, GATEWAY_KEYS.maxAttempts.default);
    assert.equal(r.values.callDeadlineMs, GATEWAY_KEYS.callDeadlineMs.default);
    assert.equal(r.values.greeterService, 'greeter');
    assert.equal(r.values.discoveryWaitSeconds, 20);
    assert.equal(r.sources.maxAttempts, 'default (invalid kv value)');
    assert.deepEqual(r.problems.map((p) => p.key).sort(), ['callDeadlineMs', 'greeterService', 'maxAttempts']);
    assert.match(r.problems.find((p) => p.key === 'maxAttempts')?.reason ?? '', /at least 1/);
    assert.match(r.problems.find((p) => p.key === 'callDeadlineMs')?.reason ?? '', /integer/);
  });
  it('reports unknown keys', () => assert.deepEqual(resolveConfig(GATEWAY_KEYS, { typo: '1' }).unknownKeys, ['typo']));
  it('marks the fallback source when Consul was unreachable', () => {
    assert.equal(resolveConfig(GATEWAY_KEYS, {}, 'default (consul unreachable)').sources.maxAttempts, 'default (consul unreachable)');
  });
});

describe('relativeKeys', () => {
  it('strips the prefix and skips folder keys and foreign keys', () => {
    const out = relativeKeys('config/a/', [
      { key: 'config/a/', value: '' },
      { key: 'config/a/maxAttempts', value: '2' },
      { key: 'config/b/maxAttempts', value: '9' },
    ]);
    assert.deepEqual(out, { maxAttempts: '2' });
  });
});

describe('a value written as its default', () => {
  for (const [name, specs] of Object.entries(KEY_SETS)) {
    it(`${name}: every default's text passes its own rule and parses back to the default`, () => {
      for (const [key, spec] of Object.entries(specs)) {
        const parsed = safeParse(spec.schema, defaultText(spec));
        assert.ok(parsed.success, `${key}: ${defaultText(spec)}`);
        assert.deepEqual(parsed.data, spec.default, key);
      }
    });
  }
  it('is the default, from K/V, without running the rule', () => {
    const specs = { n: { ...GATEWAY_KEYS.callDeadlineMs, schema: undefined as never } };
    // A rule that would throw if run: the value equal to the default text never reaches it.
    const r = resolveConfig(specs, { n: String(GATEWAY_KEYS.callDeadlineMs.default) });
    assert.equal(r.values.n, GATEWAY_KEYS.callDeadlineMs.default);
    assert.equal(r.sources.n, 'kv');
  });
  it('is validated as any value when written otherwise (spaces, another spelling)', () => {
    const r = resolveConfig(GATEWAY_KEYS, { callDeadlineMs: ` ${GATEWAY_KEYS.callDeadlineMs.default} `, exposeBackendAddress: 'TRUE' });
    assert.equal(r.values.callDeadlineMs, GATEWAY_KEYS.callDeadlineMs.default);
    assert.equal(r.values.exposeBackendAddress, true);
    assert.deepEqual(r.problems, []);
  });
});

describe('defaultKvEntries', () => {
  it('round-trips through resolveConfig without problems', () => {
    const r = resolveConfig(GATEWAY_KEYS, defaultKvEntries(GATEWAY_KEYS));
    assert.deepEqual(r.problems, []);
    assert.ok(Object.values(r.sources).every((s) => s === 'kv'));
  });
});
