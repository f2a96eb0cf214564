/**
 * What lives across warm invocations of the health-sync job: the shared
 * function runtime plus one Cloud Map client, rebuilt only when its region or
 * endpoint changes.
 */
import type { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import type { Log } from '../log/logger';
import type { FunctionMetrics } from '../metrics/function-metrics';
import { createFunctionRuntime, type FunctionRuntime } from '../runtime/function-runtime';
import { createRuntimeMetrics } from '../runtime/runtime-metrics';
import type { HealthSyncReport } from './health-sync';
import { HEALTH_SYNC_KEYS, type HealthSyncConfig } from './health-sync-config';

/** Everything a health-sync invocation reuses. */
export interface HealthSyncRuntime extends FunctionRuntime<typeof HEALTH_SYNC_KEYS> {
  /** One run in this environment (config and lease as every function; a dry run renews no lease). */
  run(opts: { dryRun: boolean; remainingMs?: () => number }): Promise<HealthSyncReport>;
  /** Probes, status changes, Cloud Map writes and errors per run (EMF, published after every run). */
  metrics: FunctionMetrics;
}

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

/** Builds the health-sync runtime from the environment; throws ConfigError on a bad one. */
export function createHealthSyncRuntime(log: Log): HealthSyncRuntime {
  const base = createFunctionRuntime(HEALTH_SYNC_KEYS, log);
  let cloudMap: { key: string; client: ServiceDiscoveryClient } | undefined;
  // The sync and the Cloud Map client load on the first run: the bundle leaves the SDK to the Lambda
  // runtime's (scripts/esbuild/plugins.cjs), so loading the bundle does not need it.
  const sync = () => import('./health-sync.js');
  const cloudMapClient = async (cfg: HealthSyncConfig) => {
    const { createCloudMapClient } = await import('../cloudmap/cloudmap-client.js');
    const region = cfg.cloudMapRegion || process.env.AWS_REGION || 'us-east-1';
    const key = `${region} ${cfg.cloudMapEndpoint}`;
    if (cloudMap?.key !== key) {
      cloudMap?.client.destroy();
      cloudMap = { key, client: createCloudMapClient({ region, ...(cfg.cloudMapEndpoint ? { endpoint: cfg.cloudMapEndpoint } : {}) }) };
    }
    return cloudMap.client;
  };
  const metrics = createRuntimeMetrics(base);
  return {
    ...base,
    metrics,
    async run(opts) {
      // A dry run changes nothing in Consul, the lease included.
      const loaded = await base.begin({ lease: !opts.dryRun });
      const cfg = loaded.values;
      if (Object.values(loaded.sources).includes('default (consul unreachable)')) {
        // On defaults the namespace is empty and the probed services unknown: the run would mirror
        // nothing and report success. Skip it, loudly; the next scheduled run tries again.
        log.error('health-sync skipped: Consul K/V could not be read, so its config is unknown', { prefix: base.config.prefix });
        const report: HealthSyncReport = {
          dryRun: opts.dryRun,
          skipped: 'config_unavailable',
          probes: [],
          plan: [],
          notMirrored: [],
          durationMs: 0,
        };
        if (!opts.dryRun) {
          recordHealthSyncRun(metrics, report);
          metrics.flush(true);
        }
        return report;
      }
      const holder = `${process.env.AWS_LAMBDA_LOG_STREAM_NAME || 'local'} pid ${process.pid}`;
      // Keep 3 s to release the lock and answer before the Lambda's own timeout.
      const deadline = opts.remainingMs ? Date.now() + opts.remainingMs() - 3_000 : undefined;
      const client = cfg.cloudMapEnabled && cfg.cloudMapNamespaceId ? await cloudMapClient(cfg) : undefined;
      const { runHealthSync } = await sync();
      const report = await runHealthSync({ consul: base.consul, config: cfg, log, cloudMap: client, holder, deadline }, opts);
      // A dry run changes nothing, so it counts nothing either. Once a minute: publish every run.
      if (!opts.dryRun) {
        recordHealthSyncRun(metrics, report);
        metrics.flush(true);
      }
      return report;
    },
    close() {
      cloudMap?.client.destroy();
      base.close();
    },
  };
}
