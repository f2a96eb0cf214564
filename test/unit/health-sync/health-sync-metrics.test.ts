import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HealthSyncReport } from '../../../lib/health-sync/health-sync';
import { recordHealthSyncRun } from '../../../lib/health-sync/health-sync-run';
import type { FunctionMetrics } from '../../../lib/metrics/function-metrics';

function recorder() {
  const counts: Record<string, number> = {};
  const latencies: Record<string, number[]> = {};
  const m: FunctionMetrics = {
    count: (name, v = 1) => void (counts[name] = (counts[name] ?? 0) + v),
    latency: (name, ms) => void (latencies[name] ??= []).push(ms),
    level: () => undefined,
    flush: () => undefined,
  };
  return { m, counts, latencies };
}

describe('health-sync metrics', () => {
  it('counts probes, status changes, Cloud Map writes and errors of one run', () => {
    const { m, counts, latencies } = recorder();
    const report = {
      dryRun: false,
      probes: [{ changed: true }, { changed: false }, { changed: true }],
      plan: [],
      notMirrored: [],
      cloudMap: {
        created: 1,
        registered: 2,
        deregistered: 1,
        healthChanges: 3,
        skipped: 4,
        errors: [{ action: 'x', message: 'y' }],
        durationMs: 5,
        calls: {},
        retries: 0,
      },
      durationMs: 42,
    } as unknown as HealthSyncReport;
    recordHealthSyncRun(m, report);
    assert.deepEqual(counts, { HealthSyncRuns: 1, HealthSyncProbes: 3, HealthSyncStatusChanges: 2, CloudMapWrites: 7, CloudMapErrors: 1 });
    assert.deepEqual(latencies, { HealthSyncDuration: [42] });
  });

  it('a run skipped for the lock counts as skipped, with no Cloud Map figures', () => {
    const { m, counts } = recorder();
    recordHealthSyncRun(m, { dryRun: false, skipped: 'locked', probes: [], plan: [], notMirrored: [], durationMs: 1 });
    assert.deepEqual(counts, { HealthSyncRuns: 1, HealthSyncSkipped: 1, HealthSyncProbes: 0, HealthSyncStatusChanges: 0 });
  });
});
