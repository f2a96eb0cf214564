import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planRuns, selectBenchmarks } from '../../../bench/run-all';

describe('selectBenchmarks', () => {
  it('runs every benchmark, warm first, when BENCH_ONLY is unset or empty', () => {
    assert.deepEqual(
      selectBenchmarks(undefined).map((b) => b.name),
      ['warm', 'cold-start', 'bundle', 'fleet', 'metrics', 'tracing'],
    );
    assert.equal(selectBenchmarks(' , ').length, 6);
  });

  it('keeps the run order whatever the order of BENCH_ONLY', () => {
    assert.deepEqual(
      selectBenchmarks('fleet, warm').map((b) => b.name),
      ['warm', 'fleet'],
    );
  });

  it('refuses an unknown name instead of running nothing', () => {
    assert.throws(() => selectBenchmarks('warm,cold'), /unknown benchmark\(s\) cold; known: warm, cold-start, bundle, fleet/);
  });
});

describe('planRuns', () => {
  it('marks a benchmark whose file does not exist, to be skipped', () => {
    const plan = planRuns('warm,fleet', (path) => path.endsWith('greet.bench.ts'), '/b');
    assert.deepEqual(plan, [
      { name: 'warm', file: 'greet.bench.ts', path: '/b/greet.bench.ts', missing: false },
      { name: 'fleet', file: 'fleet/fleet.bench.ts', path: '/b/fleet/fleet.bench.ts', missing: true },
    ]);
  });
});
