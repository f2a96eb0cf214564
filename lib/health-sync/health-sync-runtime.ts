/**
 * The module-scope state of the health-sync job: the shared function runtime
 * plus one Cloud Map client, rebuilt only when its region or endpoint changes.
 */
import type { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { createCloudMapClient } from '../cloudmap/cloudmap-client';
import { beginInvocation, createFunctionRuntime, type FunctionRuntime } from '../runtime/function-runtime';
import { runHealthSync, type HealthSyncReport } from './health-sync';
import { HEALTH_SYNC_KEYS, type HealthSyncConfig } from './health-sync-config';

let job: (FunctionRuntime<typeof HEALTH_SYNC_KEYS> & { cloudMap?: { key: string; client: ServiceDiscoveryClient } }) | undefined;

function cloudMapClient(cfg: HealthSyncConfig): ServiceDiscoveryClient {
  const region = cfg.cloudMapRegion || process.env.AWS_REGION || 'us-east-1';
  const key = `${region} ${cfg.cloudMapEndpoint}`;
  if (job?.cloudMap?.key !== key) {
    job?.cloudMap?.client.destroy();
    const client = createCloudMapClient({ region, ...(cfg.cloudMapEndpoint ? { endpoint: cfg.cloudMapEndpoint } : {}) });
    if (job) job.cloudMap = { key, client };
    return client;
  }
  return job.cloudMap.client;
}

/** Runs one health-sync in this execution environment (config and lease as every function). */
export async function healthSyncInvocation(opts: { dryRun: boolean; remainingMs?: () => number }): Promise<HealthSyncReport> {
  job ??= createFunctionRuntime(HEALTH_SYNC_KEYS);
  // A dry run changes nothing in Consul, the lease included.
  const loaded = await beginInvocation(job, { lease: !opts.dryRun });
  const cfg = loaded.values;
  const holder = `${process.env.AWS_LAMBDA_LOG_STREAM_NAME || 'local'} pid ${process.pid}`;
  // Keep 3 s to release the lock and answer before the Lambda's own timeout.
  const deadline = opts.remainingMs ? Date.now() + opts.remainingMs() - 3_000 : undefined;
  return runHealthSync({ consul: job.consul, config: cfg, cloudMap: cfg.cloudMapEnabled && cfg.cloudMapNamespaceId ? cloudMapClient(cfg) : undefined, holder, deadline }, opts);
}

/** Forgets the runtime (tests). */
export function resetHealthSyncRuntime(): void {
  job?.cloudMap?.client.destroy();
  job?.close();
  job = undefined;
}
