import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readPowertoolsEnvironment } from '../../../lib/config/environment';
import type { EnvironmentLease } from '../../../lib/lease/environment-lease';
import { createRuntimeMetrics } from '../../../lib/runtime/runtime-metrics';
import { emfLines as emf } from '../helpers/emf-lines';
import { FakeConsul } from '../helpers/fake-consul';

const lease = { snapshot: () => ({ renewals: 0, failedAttempts: 0 }) } as unknown as EnvironmentLease;

describe('runtime metrics', () => {
  it('counts the answers a discovery fallback served since the last line, only when a fallback is configured', () => {
    const discovery = { fallbackAnswers: 0 };
    const env = readPowertoolsEnvironment({ POWERTOOLS_METRICS_NAMESPACE: 'test-ns', POWERTOOLS_SERVICE_NAME: 'greet' });
    const m = createRuntimeMetrics({ consul: new FakeConsul(), lease, discovery }, env);
    discovery.fallbackAnswers = 3;
    const [first] = emf(() => {
      m.count('GreetErrors', 0);
      m.flush(true);
    });
    assert.equal(first?.DiscoveryFallbackServed, 3);
    discovery.fallbackAnswers = 5;
    const [second] = emf(() => {
      m.count('GreetErrors', 0);
      m.flush(true);
    });
    assert.equal(second?.DiscoveryFallbackServed, 2);
    const plain = createRuntimeMetrics({ consul: new FakeConsul(), lease }, env);
    const [line] = emf(() => {
      plain.count('GreetErrors', 0);
      plain.flush(true);
    });
    assert.equal(line && 'DiscoveryFallbackServed' in line, false);
  });
});
