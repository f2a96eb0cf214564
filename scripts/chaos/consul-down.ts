/**
 * "Consul entirely down" for `npm run chaos` (issue 16): the Cloud Map mirror in moto, written by
 * real runs of the packaged healthSync bundle with its own least-privilege token, and the two
 * scenarios that kill every Consul node while the packaged greet has DISCOVERY_FALLBACK=cloudmap.
 * Cold: fresh greet processes with the whole of Consul dead must answer 200 from the mirror. Warm:
 * steady traffic through the kill, then through the cluster's restart, back on Consul.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CreateHttpNamespaceCommand, DiscoverInstancesCommand, GetOperationCommand } from '@aws-sdk/client-servicediscovery';
import { createCloudMapClient } from '../../lib/cloudmap/cloudmap-client';
import { healthSyncToken } from '../stack/tokens';
import type { ConsulApi } from '../../lib/consul/consul-api';
import { HEALTH_SYNC_KEYS } from '../../lib/health-sync/health-sync-config';
import type { ConsulAgent } from '../stack/consul-agent';
import type { ConsulCluster } from '../stack/consul-cluster';
import { startMoto, type MotoServer } from '../stack/moto';
import { startProcess, stopProcess } from '../stack/processes';
import { seedDefaultConfig } from '../stack/seed-config';
import { latencyFigures, p99, traffic, type Line } from './chaos-kit';
import { eventually } from '../support/poll-until';
import type { ChaosRow } from './chaos-table';
import { describeRuns, firstServedBy, sourceRuns } from './source-timeline';

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

/** What the two scenarios need from the chaos run. */
export interface ConsulDownContext {
  cluster: ConsulCluster;
  /** The other datacenter's agents: "entirely down" kills them too, and they stay down. */
  otherDatacenters: ConsulAgent[];
  bundle: string;
  env: NodeJS.ProcessEnv;
  windowMs: number;
  /** Resolves once the local backends pass again (after the cluster's restart). */
  backendsPassing(): Promise<void>;
}

async function killEverything(c: ConsulDownContext): Promise<void> {
  await Promise.all([
    ...c.cluster.nodes.map((n) => c.cluster.kill(n)),
    ...c.otherDatacenters.map((a) => stopProcess(a.process, 'SIGKILL', 0)),
  ]);
}

/** Restarts every node of the cluster (servers first, data dirs kept) and waits for a leader. */
async function restartCluster(c: ConsulDownContext): Promise<void> {
  await Promise.all(c.cluster.servers.map((n) => c.cluster.restart(n)));
  await Promise.all(c.cluster.clients.map((n) => c.cluster.restart(n)));
  await c.cluster.waitForLeader(30_000);
}

const COLD_STARTS = 3;

/**
 * Cold: every Consul node SIGKILLed, then COLD_STARTS fresh greet processes one after the other;
 * each must answer 200 served by the mirror. Restarts the cluster afterwards.
 */
export async function consulDownCold(c: ConsulDownContext): Promise<ChaosRow> {
  await killEverything(c);
  const colds: Line[] = [];
  try {
    for (let i = 0; i < COLD_STARTS; i++) {
      const t = traffic(c.bundle, c.env, 'once');
      const timer = setTimeout(() => void stopProcess(t.proc, 'SIGKILL', 0), 30_000);
      await t.proc.exited;
      clearTimeout(timer);
      const line = t.lines()[0];
      if (!line) throw new Error(`cold start printed nothing:\n${t.proc.output.slice(-10).join('\n')}`);
      colds.push(line);
    }
  } finally {
    await restartCluster(c);
    await c.backendsPassing();
  }
  const ok = colds.filter((l) => l.status === 200 && l.src === 'cloudmap');
  const total = colds.map((l) => l.sinceStartMs ?? NaN);
  const init = colds.map((l) => l.importMs ?? NaN);
  const first = colds.map((l) => l.ms);
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  return {
    scenario: 'Consul entirely down (cold start)',
    sent: colds.length,
    failed: colds.length - ok.length,
    remote: colds.filter((l) => l.dc).length,
    ...latencyFigures(first),
    recoverMs: 0,
    note: `every Consul node SIGKILLed, ${colds.length} fresh greet processes: ${ok.length} answered 200 from ${[...new Set(colds.map((l) => l.src ?? 'none'))].join('/')}; process start → 200: ${list(total)} ms (of which bundle load ${list(init)} ms, first invocation ${list(first)} ms); config from ${colds[0]?.configSource ?? '?'}`,
  };
}

/**
 * Warm: steady traffic, every Consul node SIGKILLed for `windowMs` (first row), then the cluster
 * restarted under the same traffic until the watch is served by consul again plus a second (second row).
 */
export async function consulDownWarm(c: ConsulDownContext): Promise<ChaosRow[]> {
  const t = traffic(c.bundle, c.env, 'loop');
  let restarted = false;
  try {
    await eventually(() => t.lines().length >= 100 && t.lines().at(-1)?.src === 'consul', 30_000, 'warm traffic served by consul');
    const slow = Math.max(50, 5 * p99(t.lines().map((l) => l.ms)));
    const killedAt = Date.now();
    await killEverything(c);
    await eventually(() => Date.now() - killedAt >= c.windowMs, c.windowMs + 60_000, 'the outage window');
    const restartAt = Date.now();
    await restartCluster(c);
    restarted = true;
    const upAt = Date.now();
    await eventually(() => firstServedBy(t.lines(), 'consul', restartAt) !== undefined, 60_000, 'traffic back on consul');
    const backAt = restartAt + (firstServedBy(t.lines(), 'consul', restartAt) ?? 0);
    await eventually(() => Date.now() - backAt >= 1_000, 5_000, 'a second on consul');
    await stopProcess(t.proc, 'SIGTERM', 3_000);
    if (t.proc.child.exitCode !== null && t.proc.child.exitCode !== 0)
      throw new Error(
        `Consul down (warm): the traffic process died:\n${t.proc.output
          .filter((l) => !l.startsWith('{"t"'))
          .slice(-20)
          .join('\n')}`,
      );
    const row = (scenario: string, from: number, to: number, note: string): ChaosRow => {
      const during = t.lines().filter((l) => l.t >= from && l.t < to);
      const ms = during.map((l) => l.ms);
      const bad = during.filter((l) => l.status !== 200 || l.ms > slow);
      const codes = new Map<string, number>();
      for (const l of during) if (l.status !== 200) codes.set(l.code ?? String(l.status), (codes.get(l.code ?? String(l.status)) ?? 0) + 1);
      const failures = [...codes].map(([k, n]) => `${n} ${k}`).join(', ');
      return {
        scenario,
        sent: during.length,
        failed: during.filter((l) => l.status !== 200).length,
        remote: during.filter((l) => l.status === 200 && l.dc).length,
        ...latencyFigures(ms),
        recoverMs: bad.length ? Math.max(...bad.map((l) => l.t)) - from : 0,
        note: [note, failures].filter(Boolean).join('; '),
      };
    };
    const outage = t.lines().filter((l) => l.t >= killedAt && l.t < restartAt);
    const mirrorAt = firstServedBy(outage, 'cloudmap', killedAt);
    return [
      row(
        'Consul entirely down (warm)',
        killedAt,
        restartAt,
        `every Consul node SIGKILLed; served by ${describeRuns(sourceRuns(outage, killedAt))}; on the mirror ${mirrorAt === undefined ? 'never' : `${Math.round(mirrorAt)} ms after the kill`}`,
      ),
      row(
        'Consul back after the outage (warm)',
        restartAt,
        Infinity,
        `cluster restarted; served by ${describeRuns(
          sourceRuns(
            t.lines().filter((l) => l.t >= restartAt),
            restartAt,
          ),
        )}; cluster answering ${((upAt - restartAt) / 1000).toFixed(1)} s after the restart began, consul serving from +${((backAt - restartAt) / 1000).toFixed(1)} s`,
      ),
    ];
  } finally {
    await stopProcess(t.proc, 'SIGKILL', 0);
    if (!restarted) await restartCluster(c).catch(() => undefined);
  }
}
