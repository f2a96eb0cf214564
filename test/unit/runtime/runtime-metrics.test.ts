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
    const m = createRuntimeMetrics({ consul: new FakeConsul(), lease, discovery, onShutdown: () => undefined }, env);
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
    const plain = createRuntimeMetrics({ consul: new FakeConsul(), lease, onShutdown: () => undefined }, env);
    const [line] = emf(() => {
      plain.count('GreetErrors', 0);
      plain.flush(true);
    });
    assert.equal(line && 'DiscoveryFallbackServed' in line, false);
  });

  it('writes what is still buffered when the environment shuts down, and nothing when nothing is', () => {
    const hooks: Array<() => void> = [];
    const env = readPowertoolsEnvironment({ POWERTOOLS_METRICS_NAMESPACE: 'test-ns', POWERTOOLS_SERVICE_NAME: 'greet' });
    const m = createRuntimeMetrics({ consul: new FakeConsul(), lease, onShutdown: (h) => hooks.push(h) }, env);
    assert.equal(hooks.length, 1);
    // The cold start's line goes out at once; the next value waits for the interval.
    assert.equal(emf(() => (m.latency('GreetLatency', 5), m.flush())).length, 1);
    assert.equal(emf(() => (m.latency('GreetLatency', 7), m.flush())).length, 0);
    const [last, ...more] = emf(() => hooks.forEach((h) => h()));
    assert.equal(last?.GreetLatency, 7);
    assert.equal(more.length, 0);
    assert.equal(emf(() => hooks.forEach((h) => h())).length, 0, 'nothing buffered: no line');
  });
});
