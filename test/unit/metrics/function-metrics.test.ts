import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvokeStore } from '@aws/lambda-invoke-store';
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

  it("keeps every invocation's values when invocations run concurrently (Managed Instances: Powertools' store is per invocation)", async () => {
    // The runtime's own store, as the RIC creates it when AWS_LAMBDA_MAX_CONCURRENCY is set (an AsyncLocalStorage).
    process.env.AWS_LAMBDA_MAX_CONCURRENCY = '4';
    const store = await InvokeStore.getInstanceAsync(true);
    try {
      let t = 1_000;
      const m = createFunctionMetrics({ namespace: 'ns', service: 'greet', flushIntervalMs: 10_000, now: () => t });
      const invocation = (ms: number) =>
        store.run({}, () =>
          emfLines(() => {
            m.latency('GreetLatency', ms);
            m.flush();
          }),
        );
      assert.equal(invocation(1)[0]?.GreetLatency, 1, 'the cold start publishes at once');
      assert.deepEqual([...invocation(2), ...invocation(3)], []);
      t += 10_000;
      assert.deepEqual(
        invocation(4).map((l) => l.GreetLatency),
        [[2, 3]],
        'an invocation an interval later publishes what the other invocations recorded',
      );
      invocation(5);
      // Shutdown runs outside any invocation.
      assert.deepEqual(
        emfLines(() => m.flush(true)).map((l) => l.GreetLatency),
        [[4, 5]],
      );
    } finally {
      delete process.env.AWS_LAMBDA_MAX_CONCURRENCY;
      delete (globalThis as { awslambda?: { InvokeStore?: unknown } }).awslambda?.InvokeStore;
    }
  });

  it('stamps each line with the time of its first value: values written at shutdown or after a quiet spell count when they happened', () => {
    let t = 0;
    const m = createFunctionMetrics({ namespace: 'ns', service: 'greet', flushIntervalMs: 10_000, now: () => t });
    emfLines(() => {
      m.latency('GreetLatency', 1);
      m.flush();
    });
    t += 1_000;
    m.latency('GreetLatency', 2);
    m.flush();
    // Five quiet minutes; the next value sends the waiting batch out first, under its own time.
    t += 300_000;
    const [stale, ...more] = emfLines(() => m.latency('GreetLatency', 3));
    const age = (line: { _aws: unknown } | undefined) => Date.now() - ((line?._aws as { Timestamp: number } | undefined)?.Timestamp ?? 0);
    assert.equal(stale?.GreetLatency, 2);
    assert.deepEqual(more, []);
    assert.ok(age(stale) >= 300_000 && age(stale) < 310_000, `stamped 5 minutes back, not now (age ${age(stale)} ms)`);
    assert.deepEqual(
      emfLines(() => m.flush()),
      [],
      'the new value waits for the interval',
    );
    t += 2_000;
    const [last] = emfLines(() => m.flush(true));
    assert.equal(last?.GreetLatency, 3);
    assert.ok(age(last) >= 2_000 && age(last) < 12_000, `a forced line carries its first value's time (age ${age(last)} ms)`);
  });

  it('writes a line as soon as a name holds a full line of values, so a busy environment spreads its lines, one line each', () => {
    const t = 0;
    const m = createFunctionMetrics({ namespace: 'ns', service: 'greet', flushIntervalMs: 10_000, now: () => t });
    emfLines(() => {
      m.latency('GreetLatency', -1);
      m.flush();
    });
    const during = emfLines(() => {
      for (let i = 0; i < 250; i++) {
        m.latency('GreetLatency', i);
        m.flush();
      }
    });
    assert.deepEqual(
      during.map((l) => (l.GreetLatency as number[]).length),
      [99, 99],
    );
    assert.deepEqual((during[1]?.GreetLatency as number[]).slice(0, 2), [99, 100], 'in order, none lost');
    assert.equal((emfLines(() => m.flush(true))[0]?.GreetLatency as number[]).length, 52);
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
