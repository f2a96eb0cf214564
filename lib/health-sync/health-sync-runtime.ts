/**
 * What lives across warm invocations of the health-sync job: the shared
 * function runtime, its metrics, the name it holds the run lock under, and one
 * Cloud Map client, rebuilt only when its region or endpoint changes. State
 * only: the use case (health-sync-run.ts) decides what a run does with it.
 */
import type { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { cloudMapClientConfig } from '../cloudmap/cloudmap-client-config';
import { readLambdaEnvironment, type LambdaEnvironment } from '../config/environment';
import type { Log } from '../log/logger';
import type { FunctionMetrics } from '../metrics/function-metrics';
import { createFunctionRuntime, type FunctionRuntime } from '../runtime/function-runtime';
import { createRuntimeMetrics } from '../runtime/runtime-metrics';
import { HEALTH_SYNC_KEYS, type HealthSyncConfig } from './health-sync-config';

/** Everything a health-sync invocation reuses. */
export interface HealthSyncRuntime extends FunctionRuntime<typeof HEALTH_SYNC_KEYS> {
  /** Probes, status changes, Cloud Map writes and errors per run (EMF, published after every run). */
  metrics: FunctionMetrics;
  /** Who holds the run lock from this environment: its log stream (`local` outside Lambda) and pid. */
  holder: string;
  /** The Cloud Map client for the config's region (else the function's own) and endpoint; the SDK loads on first use. */
  cloudMapClient(cfg: HealthSyncConfig): Promise<ServiceDiscoveryClient>;
}

/** Builds the health-sync runtime from the environment (`lambda`: where it runs); throws ConfigError on a bad one. */
export function createHealthSyncRuntime(log: Log, lambda: LambdaEnvironment = readLambdaEnvironment()): HealthSyncRuntime {
  const base = createFunctionRuntime(HEALTH_SYNC_KEYS, log);
  let cloudMap: { key: string; client: ServiceDiscoveryClient } | undefined;
  return {
    ...base,
    metrics: createRuntimeMetrics(base),
    holder: `${lambda.logStream ?? 'local'} pid ${process.pid}`,
    async cloudMapClient(cfg) {
      // The bundle leaves the SDK to the Lambda runtime's (scripts/esbuild/plugins.cjs): loaded here, on the
      // first run that mirrors, so loading the bundle does not need it.
      const { ServiceDiscoveryClient } = await import('@aws-sdk/client-servicediscovery');
      const region = cfg.cloudMapRegion || lambda.region || 'us-east-1';
      const key = `${region} ${cfg.cloudMapEndpoint}`;
      if (cloudMap?.key !== key) {
        cloudMap?.client.destroy();
        const config = cloudMapClientConfig({ region, ...(cfg.cloudMapEndpoint ? { endpoint: cfg.cloudMapEndpoint } : {}) });
        cloudMap = { key, client: new ServiceDiscoveryClient(config) };
      }
      return cloudMap.client;
    },
    close() {
      cloudMap?.client.destroy();
      base.close();
    },
  };
}
