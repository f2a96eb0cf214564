/**
 * "Consul entirely down" for `npm run chaos`: the two scenarios that kill every Consul node while the
 * packaged greet has DISCOVERY_FALLBACK=cloudmap (the mirror in cloudmap-mirror.ts). Cold: fresh
 * greet processes with the whole of Consul dead must answer 200 from the mirror. Warm: steady traffic
 * through the kill, then through the cluster's restart, back on Consul.
 */
import type { ConsulAgent } from '../stack/consul-agent';
import type { ConsulCluster } from '../stack/consul-cluster';
import { stopProcess } from '../stack/processes';
import { eventually } from '../support/poll-until';
import { checkTrafficExit, coldStart, latencyFigures, slowThreshold, traffic, windowRow, type Line } from './chaos-kit';
import type { ChaosRow } from './chaos-table';
import { describeRuns, firstServedBy, sourceRuns } from './source-timeline';

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
    for (let i = 0; i < COLD_STARTS; i++) colds.push(await coldStart(c.bundle, c.env));
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
    const slow = slowThreshold(t.lines());
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
    checkTrafficExit(t, 'Consul down (warm)');
    const row = (scenario: string, from: number, to: number, note: string): ChaosRow =>
      windowRow(
        scenario,
        t.lines().filter((l) => l.t >= from && l.t < to),
        from,
        slow,
        note,
      );
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
