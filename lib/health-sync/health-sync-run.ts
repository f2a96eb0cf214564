/**
 * The health-sync use case as its function calls it: one scheduled (or manual) run on the health-sync
 * runtime. It starts the invocation (config, and the lease unless dry), skips a run whose config Consul
 * could not give, bounds the run by the Lambda's time, runs the sync and records what it did.
 */
import type { FunctionMetrics } from '../metrics/function-metrics';
import type { HealthSyncReport } from './health-sync';
import type { HealthSyncRuntime } from './health-sync-runtime';

/** Time kept back from the Lambda's to release the lock and answer before its own timeout. */
const RELEASE_MARGIN_MS = 3_000;

/** The counters one run adds to the job's metrics. */
export function recordHealthSyncRun(metrics: FunctionMetrics, report: HealthSyncReport): void {
  metrics.count('HealthSyncRuns');
  if (report.skipped) metrics.count('HealthSyncSkipped');
  metrics.count('HealthSyncProbes', report.probes.length);
  metrics.count('HealthSyncStatusChanges', report.probes.filter((p) => p.changed).length);
  const cm = report.cloudMap;
  if (cm) {
    metrics.count('CloudMapWrites', cm.created + cm.registered + cm.deregistered + cm.healthChanges);
    metrics.count('CloudMapErrors', cm.errors.length);
  }
  metrics.latency('HealthSyncDuration', report.durationMs);
}

/** One run on `rt` (config and lease as every function; a dry run renews no lease, writes nothing and counts nothing). */
export async function healthSync(rt: HealthSyncRuntime, opts: { dryRun: boolean; remainingMs?: () => number }): Promise<HealthSyncReport> {
  // A dry run changes nothing in Consul, the lease included.
  const loaded = await rt.begin({ lease: !opts.dryRun });
  const cfg = loaded.values;
  let report: HealthSyncReport;
  if (Object.values(loaded.sources).includes('default (consul unreachable)')) {
    // On defaults the namespace is empty and the probed services unknown: the run would mirror
    // nothing and report success. Skip it, loudly; the next scheduled run tries again.
    rt.log.error('health-sync skipped: Consul K/V could not be read, so its config is unknown', { prefix: rt.config.prefix });
    report = { dryRun: opts.dryRun, skipped: 'config_unavailable', probes: [], plan: [], notMirrored: [], durationMs: 0 };
  } else {
    const deadline = opts.remainingMs ? Date.now() + opts.remainingMs() - RELEASE_MARGIN_MS : undefined;
    const cloudMap = cfg.cloudMapEnabled && cfg.cloudMapNamespaceId ? await rt.cloudMapClient(cfg) : undefined;
    // Loaded on the first run, like the Cloud Map client: the sync's Cloud Map steps need the SDK.
    const { runHealthSync } = await import('./health-sync.js');
    report = await runHealthSync({ consul: rt.consul, config: cfg, log: rt.log, cloudMap, holder: rt.holder, deadline }, opts);
  }
  // Once a minute: publish every run.
  if (!opts.dryRun) {
    recordHealthSyncRun(rt.metrics, report);
    rt.metrics.flush(true);
  }
  return report;
}
