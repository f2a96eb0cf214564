/**
 * One row of the fleet model: N environments over a few worker processes, one discovery source
 * and lease mode; a measuring window once every environment is warm, then backend changes timed
 * until every environment saw them. Every wait is bounded.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { agentServices, deregisterService } from '../../lib/consul/agent';
import { createConsulApi } from '../../lib/consul/consul-api';
import { kvDelete } from '../../lib/consul/kv';
import { destroySession } from '../../lib/consul/session';
import type { ClusterNode, ConsulCluster } from '../../scripts/stack/consul-cluster';
import { pollUntil } from '../../scripts/support/poll-until';
import { round, stats } from '../measure';
import type { FleetResult } from '../results';
import { counterDelta, cpuSeconds, readCounters, rssMb, sumCounters } from './consul-load';
import type { FromWorker, ToWorker, WorkerSettings } from './fleet-protocol';
import type { SourceCounters, SourceParts, SourceStack } from './fleet-sources';
import { connectionsByClientIp } from './tcp-connections';

export const PREFIX = 'config/greeter-gateway/fleet/';
/** Lease choices of a row: the two lease modes, or none (discovery-only environments). */
export type LeaseChoice = 'agent' | 'session' | 'off';

/**
 * The config of each lease choice, under `${PREFIX}<choice>/`. Shorter than production defaults so a
 * window sees every kind of request (the formulas scale them back). Discovery-only environments
 * read their config once (max age 0: never again) and hold no lease: only discovery is left.
 */
export const LEASE_CONFIG = {
  agent: {
    leaseEnabled: true,
    leaseMode: 'agent',
    leaseTtlSeconds: 15,
    configMaxAgeSeconds: 10,
    discoveryWaitSeconds: 10,
    coldStartWaitMs: 3_000,
  },
  session: {
    leaseEnabled: true,
    leaseMode: 'session',
    leasePrefix: 'lambda-leases',
    leaseTtlSeconds: 15,
    configMaxAgeSeconds: 10,
    discoveryWaitSeconds: 10,
    coldStartWaitMs: 3_000,
  },
  off: { leaseEnabled: false, configMaxAgeSeconds: 0, discoveryWaitSeconds: 10, coldStartWaitMs: 3_000 },
} as const;

const CHANGES = 2;
const CHANGE_GAP_MS = 2_000;

/** What a row runs on. */
export interface RowStack {
  cluster: ConsulCluster;
  /** The client agent the environments talk to. */
  agent: ClusterNode;
  gatewayToken: string;
  source: SourceStack;
  parts: SourceParts;
  windowMs: number;
}

/** A measured row (the fields bench/report-model.ts requires, and the rest). */
export type FleetRow = FleetResult['rows'][number] & {
  source: string;
  leaseMode: LeaseChoice;
} & Record<string, unknown>;

interface Worker {
  child: ChildProcess;
  messages: FromWorker[];
  waiters: Array<() => void>;
}

function startWorker(env: NodeJS.ProcessEnv, settings: WorkerSettings): Worker {
  const child = fork(join(__dirname, 'fleet-worker.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...env, FLEET_SETTINGS: JSON.stringify(settings) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const w: Worker = { child, messages: [], waiters: [] };
  child.on('message', (m: FromWorker) => {
    w.messages.push(m);
    for (const f of w.waiters.splice(0)) f();
  });
  child.on('exit', () => {
    for (const f of w.waiters.splice(0)) f();
  });
  return w;
}

/** Waits until `pick` finds a message of `w`, or `timeoutMs` passes (then undefined). */
async function message<T>(w: Worker, pick: (m: FromWorker) => T | undefined, timeoutMs: number): Promise<T | undefined> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    for (const m of w.messages) {
      const found = pick(m);
      if (found !== undefined) return found;
    }
    const left = until - Date.now();
    if (left <= 0 || w.child.exitCode !== null) return undefined;
    await Promise.race([new Promise<void>((r) => w.waiters.push(r)), sleep(left)]);
  }
}

const send = (w: Worker, m: ToWorker) => w.child.connected && w.child.send(m);
const port = (address: string) => Number(address.split(':')[1]);

/** Consul's load over `ms`, and what the source's own server saw, with the most connections 127.0.0.1 held. */
async function measureWindow(stack: RowStack, ms: number) {
  const { servers, clients } = stack.cluster;
  const token = stack.cluster.managementToken;
  const nodes = [...servers, ...clients];
  const pids = [...nodes.map((n) => n.process.child.pid!), stack.source.serverPid];
  const read = () => Promise.all(nodes.map((n) => readCounters(n.address, token)));
  const [before, src0] = await Promise.all([read(), stack.source.counters()]);
  const cpu0 = pids.map((p) => (p === undefined ? 0 : cpuSeconds(p)));
  const t0 = Date.now();
  let agentConns = 0;
  let sourceConns = 0;
  while (Date.now() - t0 < ms) {
    agentConns = Math.max(agentConns, connectionsByClientIp(port(stack.agent.address)).get('127.0.0.1') ?? 0);
    if (stack.source.sourcePort) sourceConns = Math.max(sourceConns, connectionsByClientIp(stack.source.sourcePort).get('127.0.0.1') ?? 0);
    await sleep(250);
  }
  const seconds = (Date.now() - t0) / 1000;
  const [after, src1] = await Promise.all([read(), stack.source.counters()]);
  const cpu = pids.map((p, i) => (p === undefined ? 0 : ((cpuSeconds(p) - cpu0[i]!) / seconds) * 100));
  const deltas = after.map((a, i) => counterDelta(a, before[i]!));
  const server = sumCounters(deltas.slice(0, servers.length));
  const agents = sumCounters(deltas.slice(servers.length));
  const rate = (x: number) => x / seconds;
  const srcRate = (k: keyof SourceCounters) => (src1[k] !== undefined && src0[k] !== undefined ? rate(src1[k] - src0[k]) : undefined);
  return {
    seconds,
    server,
    agents,
    rate,
    serverCpuPercent: cpu.slice(0, servers.length).reduce((a, b) => a + b, 0),
    serverRssMb: Math.max(...servers.map((n) => rssMb(n.process.child.pid!))),
    agentCpuPercent: cpu.slice(servers.length, nodes.length).reduce((a, b) => a + b, 0),
    agentRssMb: Math.max(...clients.map((n) => rssMb(n.process.child.pid!))),
    sourceCpuPercent: stack.source.serverPid ? cpu[nodes.length] : undefined,
    sourceRssMb: stack.source.serverPid ? rssMb(stack.source.serverPid) : undefined,
    dnsServedPerSec: srcRate('dnsServed'),
    dnsToConsulPerSec: srcRate('dnsToConsul'),
    agentConns,
    sourceConns,
  };
}

/** Makes change `change` (present or absent) and times how long every environment takes to see it (ms from the write). */
async function propagate(stack: RowStack, workers: Worker[], change: number, present: boolean, timeoutMs: number): Promise<number[]> {
  const endpoint = `127.0.0.1:${stack.parts.changePort}`;
  for (const w of workers) send(w, { type: 'expect', change, endpoint, present });
  await stack.source.change(present);
  const t0 = Date.now();
  const seen: number[] = [];
  for (const w of workers) {
    const pick = (m: FromWorker) => (m.type === 'seen' && m.change === change ? m.at : undefined);
    let at = await message(w, pick, Math.max(1, t0 + timeoutMs - Date.now()));
    if (!at) {
      send(w, { type: 'collect', change });
      at = await message(w, pick, 5_000);
    }
    seen.push(...(at ?? []).map((t) => Math.max(0, t - t0)));
  }
  return seen;
}

/**
 * Removes what a row's environments left behind (leases whose release did not get through on a
 * saturated machine), then waits for the servers' Raft applies to settle, so the next row's window
 * does not count the previous row's expiries.
 */
async function clearLeases(stack: RowStack): Promise<void> {
  const token = stack.cluster.managementToken;
  for (const node of stack.cluster.clients) {
    const api = createConsulApi({ address: node.address, token, timeoutMs: 10_000 });
    try {
      for (const svc of await agentServices(api, 'Service == "greeter-gateway-lambda"'))
        await deregisterService(api, svc.id).catch(() => undefined);
      const sessions = (await api.request('consul.session.list', {}, { method: 'GET', path: '/session/list' })) as
        Array<{ ID?: string; Name?: string }> | undefined;
      for (const s of sessions ?? []) if (s.ID && s.Name?.startsWith('lease ')) await destroySession(api, s.ID).catch(() => undefined);
      await kvDelete(api, `${LEASE_CONFIG.session.leasePrefix}/`, { recurse: true });
    } finally {
      api.destroy();
    }
  }
  // Settled: under one Raft apply per second, measured over 2 s. Not settled within 30 s (a busy
  // machine) is said, and the row goes on: its window still counts what it sees.
  const serverCounters = async () => sumCounters(await Promise.all(stack.cluster.servers.map((n) => readCounters(n.address, token))));
  await pollUntil(
    async () => {
      const a = await serverCounters();
      await sleep(2_000);
      return (await serverCounters()).raftApply - a.raftApply < 2 ? true : undefined;
    },
    'the Raft applies to settle under 1/s',
    { timeoutMs: 30_000, intervalMs: 0 },
  ).catch((err: unknown) => console.error(`[fleet] ${err instanceof Error ? err.message : String(err)}; the next row starts anyway`));
}

/** Runs one row; a string (why) when the source could not be built in the workers. */
export async function runRow(stack: RowStack, environments: number, lease: LeaseChoice): Promise<FleetRow | string> {
  const processes = environments <= 100 ? 2 : 4;
  // Cold starts arrive at Lambda's scaling rate for one function (1,000 new environments per 10 s), not all at once.
  // Thousands of environments invoked every second would measure this machine's CPU, not Consul.
  const invokeEveryMs = environments > 1_000 ? 10_000 : 1_000;
  const env = {
    ...process.env,
    CONSUL_HTTP_ADDR: stack.agent.address,
    CONSUL_HTTP_TOKEN: stack.gatewayToken,
    CONFIG_PREFIX: `${PREFIX}${lease}/`,
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    ...stack.source.workerEnv(environments),
  };
  const refresh = stack.source.refreshSeconds(environments);
  const label = `${stack.source.name}/${lease} N=${environments}`;
  const workers: Worker[] = [];
  const agentPort = port(stack.agent.address);
  let peakConnections = 0;
  const sampler = setInterval(
    () => (peakConnections = Math.max(peakConnections, connectionsByClientIp(agentPort).get('127.0.0.1') ?? 0)),
    200,
  );
  for (let p = 0; p < processes; p++) {
    const share = Math.floor(environments / processes) + (p < environments % processes ? 1 : 0);
    workers.push(startWorker(env, { environments: share, rampMs: Math.min(60_000, environments * 10), invokeEveryMs }));
  }
  try {
    const ready = [];
    for (const w of workers) {
      const r = await message(w, (m) => (m.type === 'ready' || m.type === 'error' ? m : undefined), 180_000);
      if (r?.type === 'error') return r.message;
      if (!r) throw new Error(`a fleet worker for ${label} did not get ready`);
      ready.push(r);
    }
    const readyAt = Date.now();
    const load = await measureWindow(stack, stack.windowMs);
    const delays: number[] = [];
    const changeTimeoutMs = (refresh ?? 0) * 1000 + 20_000;
    for (let c = 1; c <= CHANGES; c++) {
      // Changes apart: a watch that just answered waits out its least interval before it asks again.
      await sleep(CHANGE_GAP_MS);
      delays.push(...(await propagate(stack, workers, c, c % 2 === 1, changeTimeoutMs)));
    }
    for (const w of workers) send(w, { type: 'stop' });
    const finals = await Promise.all(workers.map((w) => message(w, (m) => (m.type === 'stats' ? m : undefined), 60_000)));
    const stoppedAt = Date.now();
    const total = (f: (s: NonNullable<(typeof finals)[number]>) => number) => finals.reduce((a, s) => a + (s ? f(s) : 0), 0);
    const reached = delays.filter((d) => Number.isFinite(d));
    const prop = stats(reached, 'propagation delays (no environment saw a change)');
    const maxMs = prop.max;
    const targetMs = (refresh ?? 0) * 1000 + 1000;
    const { server, agents, rate } = load;
    const serverLease = server.sessionApply + server.sessionRenew + server.catalogWrites + server.kvWrites;
    const memoryKb = (ready.reduce((a, r) => a + (r.memory.rssMb - r.memory.baseRssMb), 0) * 1024) / environments;
    const heapKb = (ready.reduce((a, r) => a + (r.memory.heapMb - r.memory.baseHeapMb), 0) * 1024) / environments;
    const row: FleetRow = {
      source: stack.source.name,
      leaseMode: lease,
      environments,
      processes,
      invokeEveryMs,
      consulRequestsPerSec: round(rate(server.rpc), 1),
      consulCpuPercent: round(load.serverCpuPercent, 1),
      consulRssMb: round(load.serverRssMb, 1),
      propagationP50Ms: round(prop.p50, 0),
      propagationMaxMs: round(maxMs, 0),
      propagationTargetMs: targetMs,
      propagationWithinTarget: reached.length === delays.length && maxMs <= targetMs,
      changeReachedEnvironments: `${reached.length}/${delays.length}`,
      connectionsPerIp: load.agentConns,
      peakConnectionsPerIp: peakConnections,
      sourceConnectionsPerIp: stack.source.sourcePort ? load.sourceConns : undefined,
      http429: total((s) => s.throttledPolls),
      // At the client agents (HTTP by purpose, DNS questions) and the servers (RPCs, the lease's, health queries, Raft).
      agentHttpPerSec: round(rate(agents.http), 1),
      agentDiscoveryHttpPerSec: round(rate(agents.httpDiscovery), 1),
      agentLeaseHttpPerSec: round(rate(agents.httpLease), 1),
      agentConfigHttpPerSec: round(rate(agents.httpConfig), 1),
      consulDnsQueriesPerSec: round(rate(agents.dnsQueries + server.dnsQueries), 1),
      serverRpcPerSec: round(rate(server.rpc), 1),
      serverLeaseRpcPerSec: round(rate(serverLease), 1),
      serverHealthQueriesPerSec: round(rate(server.healthQueries), 1),
      raftAppliesPerSec: round(rate(server.raftApply), 1),
      consulDiscoveryRequestsPerSec: round(rate(agents.httpDiscovery + agents.dnsQueries + server.dnsQueries + server.healthQueries), 1),
      consulLeaseRequestsPerSec: round(rate(agents.httpLease + serverLease), 1),
      dnsQueriesServedPerSec: load.dnsServedPerSec !== undefined ? round(load.dnsServedPerSec, 1) : undefined,
      dnsQueriesToConsulPerSec: load.dnsToConsulPerSec !== undefined ? round(load.dnsToConsulPerSec, 1) : undefined,
      cloudMapCallsPerSec:
        stack.source.name === 'cloudmap'
          ? round((total((s) => s.cloudMapCalls) - ready.reduce((a, r) => a + r.cloudMapCalls, 0)) / ((stoppedAt - readyAt) / 1000), 1)
          : undefined,
      refreshSeconds: refresh,
      agentCpuPercent: round(load.agentCpuPercent, 1),
      agentRssMb: round(load.agentRssMb, 1),
      sourceServerCpuPercent: load.sourceCpuPercent !== undefined ? round(load.sourceCpuPercent, 1) : undefined,
      sourceServerRssMb: load.sourceRssMb !== undefined ? round(load.sourceRssMb, 1) : undefined,
      memoryPerEnvironmentKb: round(memoryKb, 0),
      heapPerEnvironmentKb: round(heapKb, 0),
      coldStartP50Ms: round(
        stats(
          ready.flatMap((r) => r.coldStartMs),
          'cold starts',
        ).p50,
        0,
      ),
      coldStartFailures: ready.reduce((a, r) => a + r.coldStartFailures, 0),
      invocations: total((s) => s.invocations),
      invocationsWithoutInstances: total((s) => s.invocationFailures),
      environmentsWithLeaseFailures: total((s) => s.leaseFailures),
      leaseReRegistrations: total((s) => s.leaseReRegistrations),
      clientRequestsByOperation: finals.reduce<Record<string, number>>((a, s) => {
        for (const [op, n] of Object.entries(s?.consulRequests ?? {})) a[op] = (a[op] ?? 0) + n;
        return a;
      }, {}),
    };
    console.error(`[fleet] ${label}: ${JSON.stringify(row)}`);
    return row;
  } finally {
    clearInterval(sampler);
    // Workers exit by themselves after 'stop'; any still running (a failed row) is killed.
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await clearLeases(stack).catch((err: unknown) => console.error(`[fleet] ${label}: clearing leases failed: ${String(err)}`));
  }
}
