import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFunctionMetrics, noMetrics } from '../../../lib/metrics/function-metrics';
import { emfLines } from '../helpers/emf-lines';

describe('function metrics (EMF through Powertools)', () => {
  it('publishes on the first flush, then at most once per interval, summing counters and keeping every latency', () => {
    let t = 1_000;
    const m = createFunctionMetrics({ namespace: 'test-ns', service: 'greet', flushIntervalMs: 10_000, now: () => t });
    const first = emfLines(() => {
      m.latency('GreetLatency', 1.5);
      m.count('GreetErrors');
      m.flush();
    });
    assert.equal(first.length, 1);
    assert.equal(first[0]?._aws.CloudWatchMetrics[0]?.Namespace, 'test-ns');
    assert.equal(first[0]?.service, 'greet');
    assert.equal(first[0]?.GreetLatency, 1.5);
    assert.equal(first[0]?.GreetErrors, 1);

    const quiet = emfLines(() => {
      for (let i = 0; i < 5; i++) {
        t += 1_000;
        m.latency('GreetLatency', i);
        m.count('GreetErrors', 2);
        m.flush();
      }
    });
    assert.deepEqual(quiet, [], 'nothing within the interval');
    t += 5_000;
    const next = emfLines(() => m.flush());
    assert.equal(next.length, 1);
    assert.deepEqual(next[0]?.GreetLatency, [0, 1, 2, 3, 4]);
    assert.equal(next[0]?.GreetErrors, 10);
    assert.deepEqual(
      emfLines(() => m.flush(true)),
      [],
      'an empty buffer publishes nothing, even forced',
    );
  });

  it('adds collected counters just before each line, and a forced flush ignores the interval', () => {
    let calls = 0;
    const m = createFunctionMetrics({
      namespace: 'ns',
      service: 's',
      flushIntervalMs: 60_000,
      now: () => 0,
      collect: (count) => count('ConsulRequests', ++calls * 3),
    });
    const lines = emfLines(() => {
      m.level('InstancesDiscovered', 2);
      m.flush();
      m.level('InstancesDiscovered', 3);
      m.flush(true);
    });
    assert.deepEqual(
      lines.map((l) => [l.InstancesDiscovered, l.ConsulRequests]),
      [
        [2, 3],
        [3, 6],
      ],
    );
  });

  it('records nothing without a namespace', () => {
    const m = createFunctionMetrics({ namespace: undefined, service: 's', flushIntervalMs: 0 });
    assert.equal(m, noMetrics);
    assert.deepEqual(
      emfLines(() => {
        m.count('x');
        m.flush(true);
      }),
      [],
    );
  });
});
