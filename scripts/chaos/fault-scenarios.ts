/**
 * The fault scenarios of `npm run chaos` that the stack survives with Consul up: each fault under
 * steady traffic from the packaged greet, measured over a fixed window, then undone; and one cold
 * start while the servers elect a leader.
 */
import { percentile } from '../support/percentiles';
import { eventually } from '../support/poll-until';
import { stopProcess } from '../stack/processes';
import { checkTrafficExit, coldStart, slowThreshold, traffic, windowRow } from './chaos-kit';
import type { ChaosStack } from './chaos-stack';
import type { ChaosRow } from './chaos-table';
import { describeRuns, sourceRuns } from './source-timeline';

/** How the scenarios run: the unpacked greet bundle, the fault window, and which scenarios (by name) to run. */
export interface ScenarioRun {
  bundle: string;
  windowMs: number;
  wanted(scenario: string): boolean;
}

type Fault = () => Promise<string | void>;
type Restore = () => Promise<void>;

/** Runs `fault` under warm traffic, measures the window after it, then `restore`s; undefined when not wanted. */
async function underTraffic(
  s: ChaosStack,
  r: ScenarioRun,
  scenario: string,
  fault: Fault,
  restore: Restore,
): Promise<ChaosRow | undefined> {
  if (!r.wanted(scenario)) return undefined;
  const t = traffic(r.bundle, s.env, 'loop');
  try {
    await eventually(() => t.lines().length >= 100, 30_000, `${scenario}: warm traffic`);
    const slow = slowThreshold(t.lines());
    const faultAt = Date.now();
    const note = (await fault()) ?? '';
    await eventually(() => Date.now() - faultAt >= r.windowMs, r.windowMs + 60_000, `${scenario}: the fault window`);
    await stopProcess(t.proc, 'SIGTERM', 3_000);
    checkTrafficExit(t, scenario);
    const during = t.lines().filter((l) => l.t >= faultAt);
    // With the fallback configured, say so when a scenario was not served by Consul throughout.
    const sources = during.some((l) => l.src !== 'consul') ? `served by ${describeRuns(sourceRuns(during, faultAt))}` : '';
    return windowRow(scenario, during, faultAt, slow, [note, sources].filter(Boolean).join('; '));
  } finally {
    await stopProcess(t.proc, 'SIGKILL', 0);
    await restore();
  }
}

/** Consul node faults: the leader, a follower and the first client agent SIGKILLed, each restarted after. */
export async function nodeFaults(s: ChaosStack, r: ScenarioRun): Promise<ChaosRow[]> {
  const { cluster } = s;
  const restart = (node: ChaosStack['firstAgent']) => async () => {
    await cluster.restart(node);
    await cluster.waitForLeader();
  };
  const rows: (ChaosRow | undefined)[] = [];
  const leader = await cluster.waitForLeader();
  rows.push(await underTraffic(s, r, 'leader SIGKILL', async () => void (await cluster.kill(leader)), restart(leader)));
  const currentLeader = await cluster.waitForLeader();
  const aFollower = cluster.servers.find((n) => n !== currentLeader)!;
  rows.push(await underTraffic(s, r, 'follower SIGKILL', async () => void (await cluster.kill(aFollower)), restart(aFollower)));
  rows.push(
    await underTraffic(
      s,
      r,
      'client agent SIGKILL (the first address)',
      async () => void (await cluster.kill(s.firstAgent)),
      restart(s.firstAgent),
    ),
  );
  return rows.filter((row) => row !== undefined);
}

/** Backend faults: one SIGKILLed, one hung (SIGSTOP), all local ones SIGKILLed (dc2 takes over); each brought back. */
export async function backendFaults(s: ChaosStack, r: ScenarioRun): Promise<ChaosRow[]> {
  const victim = () => s.local.find((g) => g.id === 'local-2')!;
  const rows: (ChaosRow | undefined)[] = [];
  rows.push(
    await underTraffic(
      s,
      r,
      'backend SIGKILL',
      async () => void (await stopProcess(victim().process, 'SIGKILL', 0)),
      async () => {
        await s.startLocal('local-2', victim().port);
        await s.localPassing(20_000, 'local-2 back');
      },
    ),
  );
  rows.push(
    await underTraffic(
      s,
      r,
      'backend SIGSTOP (hangs, Consul check still passing for a while)',
      async () => void victim().process.child.kill('SIGSTOP'),
      async () => {
        victim().process.child.kill('SIGCONT');
        await s.localPassing(30_000, 'local-2 passing again');
      },
    ),
  );
  rows.push(
    await underTraffic(
      s,
      r,
      'all local backends SIGKILL (dc2 takes over)',
      async () => {
        await Promise.all(s.local.map((g) => stopProcess(g.process, 'SIGKILL', 0)));
        return 'dc2 serves from the first refused call on, within the call';
      },
      async () => {
        for (const g of [...s.local]) await s.startLocal(g.id, g.port);
        await s.localPassing(30_000, 'local backends back');
      },
    ),
  );
  return rows.filter((row) => row !== undefined);
}

/** Cold starts: three fresh greet processes as the baseline, then one right after the leader is SIGKILLed. */
export async function coldStartDuringElection(s: ChaosStack, r: ScenarioRun): Promise<ChaosRow> {
  const normal = [await coldStart(r.bundle, s.env), await coldStart(r.bundle, s.env), await coldStart(r.bundle, s.env)];
  const electing = await s.cluster.waitForLeader();
  await s.cluster.kill(electing);
  const duringElection = await coldStart(r.bundle, s.env);
  await s.cluster.restart(electing);
  await s.cluster.waitForLeader();
  const normalMs = percentile(
    normal.map((l) => l.ms),
    50,
  );
  const config = `config from ${duringElection.configSource ?? '?'}${duringElection.stale ? ' (stale read)' : ''}`;
  return {
    scenario: 'cold start during an election',
    sent: 1,
    failed: duringElection.status === 200 ? 0 : 1,
    remote: duringElection.dc ? 1 : 0,
    p50: duringElection.ms,
    p99: duringElection.ms,
    max: duringElection.ms,
    recoverMs: 0,
    note: `normal cold invocation ${normalMs?.toFixed(0) ?? '-'} ms; ${config}`,
  };
}
