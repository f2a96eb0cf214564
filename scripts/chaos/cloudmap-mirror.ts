/**
 * The Cloud Map mirror of `npm run chaos`: moto holding a namespace that real runs of the packaged
 * healthSync bundle write, with the job's own least-privilege token, and the environment that points
 * a greet process at it (DISCOVERY_FALLBACK=cloudmap).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CreateHttpNamespaceCommand, DiscoverInstancesCommand, GetOperationCommand } from '@aws-sdk/client-servicediscovery';
import { createCloudMapClient } from '../../lib/cloudmap/cloudmap-client';
import type { ConsulApi } from '../../lib/consul/consul-api';
import { HEALTH_SYNC_KEYS } from '../../lib/health-sync/health-sync-config';
import { startMoto, type MotoServer } from '../stack/moto';
import { startProcess, stopProcess } from '../stack/processes';
import { seedDefaultConfig } from '../stack/seed-config';
import { healthSyncToken } from '../stack/tokens';

const HS_PREFIX = 'config/health-sync/chaos/';
const REGION = 'us-east-1';
const REPO = join(__dirname, '..', '..');

/** The mirror: moto, its namespace, and how to run the health-sync job that writes it. */
export interface CloudMapMirror {
  moto: MotoServer;
  namespace: string;
  /** What the greet process needs for DISCOVERY_FALLBACK=cloudmap. */
  gatewayEnv: Record<string, string>;
  /** Runs the packaged healthSync once against `consulAddress`; resolves with the mirror's healthy instance ids. */
  sync(consulAddress: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** Starts moto, creates the namespace, and provisions the health-sync job's token and config. */
export async function startCloudMapMirror(o: {
  admin: ConsulApi;
  healthSyncBundle: string;
  greeterService: string;
}): Promise<CloudMapMirror> {
  const moto = await startMoto();
  try {
    const namespace = `chaos-${randomBytes(3).toString('hex')}`;
    const cm = createCloudMapClient({ region: REGION, endpoint: moto.endpoint });
    let namespaceId = '';
    try {
      const op = await cm.send(new CreateHttpNamespaceCommand({ Name: namespace }));
      namespaceId = (await cm.send(new GetOperationCommand({ OperationId: op.OperationId }))).Operation?.Targets?.NAMESPACE ?? '';
    } finally {
      cm.destroy();
    }
    if (!namespaceId) throw new Error('moto created no Cloud Map namespace');
    // The job's own token: read health and its config, write only the probe prefix it owns.
    const syncToken = await healthSyncToken(o.admin, HS_PREFIX);
    await seedDefaultConfig(o.admin, HS_PREFIX, HEALTH_SYNC_KEYS, {
      services: o.greeterService,
      cloudMapNamespaceId: namespaceId,
      cloudMapEndpoint: moto.endpoint,
      cloudMapRegion: REGION,
      leaseEnabled: 'false',
    });
    const nodePath = join(REPO, 'node_modules');
    const runOnce = async (consulAddress: string) => {
      // Lambda's Node runtime ships SDK v3 on NODE_PATH; the bundle requires the Cloud Map client from it.
      const env = {
        ...process.env,
        CONSUL_HTTP_ADDR: consulAddress,
        CONSUL_HTTP_TOKEN: syncToken,
        CONFIG_PREFIX: HS_PREFIX,
        NODE_PATH: nodePath,
        POWERTOOLS_LOG_LEVEL: 'ERROR',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      };
      const proc = startProcess('health-sync once', process.execPath, [join(__dirname, 'health-sync-once.mjs'), o.healthSyncBundle], {
        env,
      });
      const timer = setTimeout(() => void stopProcess(proc, 'SIGKILL', 0), 60_000);
      await proc.exited;
      clearTimeout(timer);
      const out = proc.output.find((l) => l.startsWith('{"report"'));
      const report = out ? (JSON.parse(out) as { report: { cloudMap?: { errors: unknown[] } } }).report : undefined;
      return { ok: report?.cloudMap !== undefined && report.cloudMap.errors.length === 0, output: proc.output };
    };
    const sync = async (consulAddress: string) => {
      // A run that could not read its config (Consul just elected a leader) mirrors nothing; the
      // schedule would run it again, so do we, a bounded number of times.
      let r = await runOnce(consulAddress);
      for (let attempt = 1; attempt < 3 && !r.ok; attempt++) r = await runOnce(consulAddress);
      if (!r.ok) throw new Error(`the health-sync run failed 3 times:\n${r.output.slice(-20).join('\n')}`);
      const read = createCloudMapClient({ region: REGION, endpoint: moto.endpoint });
      try {
        const found = await read.send(
          new DiscoverInstancesCommand({ NamespaceName: namespace, ServiceName: o.greeterService, HealthStatus: 'HEALTHY' }),
        );
        return (found.Instances ?? []).map((i) => i.InstanceId ?? '').sort();
      } finally {
        read.destroy();
      }
    };
    return {
      moto,
      namespace,
      gatewayEnv: {
        DISCOVERY_FALLBACK: 'cloudmap',
        CLOUDMAP_NAMESPACE: namespace,
        CLOUDMAP_ENDPOINT: moto.endpoint,
        CLOUDMAP_REGION: REGION,
        NODE_PATH: nodePath,
      },
      sync,
      stop: () => moto.stop(),
    };
  } catch (err) {
    await moto.stop();
    throw err;
  }
}
