/**
 * The fleet-scale model (issue 11, section 4): how Consul's load grows with the number of warm
 * execution environments. A real cluster (3 servers, 2 client agents, ACLs on, on loopback),
 * a real Greeter, and N = 10, 100, 1000 environments spread over a few fleet-worker.ts
 * processes, each environment the project's own gateway runtime. Per row: requests per second
 * at the servers (their RPC counters) and at the client agent (its HTTP counter), CPU and RSS
 * of the Consul processes, connections per source IP at the agent, and the time for a backend
 * change to reach every environment. Client agent 1 has `http_max_conns_per_client` raised for
 * the 1000 row; client agent 2 keeps Consul's default (200), and one more row puts more
 * environments than that behind it. Writes bench/results/fleet.json.
 * FLEET_SIZES (e.g. "10,100"), FLEET_OVER_CAP (0 to skip) and FLEET_WINDOW_MS override the defaults.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { provisionToken } from '../../lib/consul/acl-admin';
import { deregisterService, registerTtlService } from '../../lib/consul/agent';
import { createConsulApi, type ConsulApi } from '../../lib/consul/consul-api';
import { kvPut } from '../../lib/consul/kv';
import { startConsulCluster, type ClusterNode, type ConsulCluster } from '../../scripts/stack/consul-cluster';
import { startGreeter, type GreeterBackend } from '../../scripts/stack/greeters';
import { passingIds } from '../../scripts/stack/passing';
import { stopProcess } from '../../scripts/stack/processes';
import { stats } from '../measure';
import { writeResult, type FleetResult } from '../results';
import { cpuSeconds, readCounters, rssMb, type NodeCounters } from './consul-load';
import type { FromWorker, ToWorker, WorkerSettings } from './fleet-protocol';
import { connectionsByClientIp } from './tcp-connections';

const SIZES = (process.env.FLEET_SIZES ?? '10,100,1000').split(',').map(Number);
const OVER_CAP = Number(process.env.FLEET_OVER_CAP ?? 300);
const WINDOW_MS = Number(process.env.FLEET_WINDOW_MS ?? 20_000);
/** The raised cap of client agent 1: the largest row, plus room for the short connections in flight (many when the machine is loaded). */
const RAISED_CAP = Math.round(Math.max(...SIZES) * 1.5) + 100;
const PREFIX = 'config/greeter-gateway/fleet/';
/** Shorter than production defaults so a 20 s window sees every kind of request; the formula scales them back. */
const CONFIG = { leaseTtlSeconds: 15, configMaxAgeSeconds: 10, discoveryWaitSeconds: 10, coldStartWaitMs: 3_000 };
const CHANGES = 4;
const CHANGE_GAP_MS = 2_000;

type Row = FleetResult['rows'][number] & Record<string, unknown>;

interface Worker {
  child: ChildProcess;
  messages: FromWorker[];
  waiters: Array<() => void>;
}

function startWorker(env: NodeJS.ProcessEnv, settings: WorkerSettings): Worker {
  const child = fork(join(__dirname, 'fleet-worker.ts'), [], { execArgv: ['--import', 'tsx'], env: { ...env, FLEET_SETTINGS: JSON.stringify(settings) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const w: Worker = { child, messages: [], waiters: [] };
  child.on('message', (m: FromWorker) => {
    w.messages.push(m);
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
const sumCounters = (list: NodeCounters[]) => list.reduce((a, c) => ({ http: a.http + c.http, rpc: a.rpc + c.rpc, rpcQuery: a.rpcQuery + c.rpcQuery, clientRpc: a.clientRpc + c.clientRpc }), { http: 0, rpc: 0, rpcQuery: 0, clientRpc: 0 });
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

interface Stack {
  cluster: ConsulCluster;
  gatewayToken: string;
  backendToken: string;
  greeter: GreeterBackend;
}

/** Load of the servers and of one client agent over `ms`, with the most connections any one IP held to it. */
async function measureWindow(stack: Stack, agent: ClusterNode, ms: number) {
  const { servers } = stack.cluster;
  const token = stack.cluster.managementToken;
  const port = Number(agent.address.split(':')[1]);
  const nodes = [...servers, agent];
  const before = await Promise.all(nodes.map((n) => readCounters(n.address, token)));
  const cpu0 = nodes.map((n) => cpuSeconds(n.process.child.pid!));
  const t0 = Date.now();
  let maxConns = 0;
  while (Date.now() - t0 < ms) {
    maxConns = Math.max(maxConns, connectionsByClientIp(port).get('127.0.0.1') ?? 0);
    await sleep(250);
  }
  const seconds = (Date.now() - t0) / 1000;
  const after = await Promise.all(nodes.map((n) => readCounters(n.address, token)));
  const cpu = nodes.map((n, i) => ((cpuSeconds(n.process.child.pid!) - cpu0[i]!) / seconds) * 100);
  const delta = (i: number) => {
    const a = after[i]!;
    const b = before[i]!;
    return { http: a.http - b.http, rpc: a.rpc - b.rpc, rpcQuery: a.rpcQuery - b.rpcQuery, clientRpc: a.clientRpc - b.clientRpc };
  };
  const serverDelta = sumCounters(servers.map((_, i) => delta(i)));
  const agentDelta = delta(servers.length);
  return {
    serverRpcPerSec: serverDelta.rpc / seconds,
    serverBlockingQueriesPerSec: serverDelta.rpcQuery / seconds,
    serverHttpPerSec: serverDelta.http / seconds,
    agentHttpPerSec: agentDelta.http / seconds,
    agentRpcToServersPerSec: agentDelta.clientRpc / seconds,
    serverCpuPercent: cpu.slice(0, servers.length).reduce((a, b) => a + b, 0),
    serverRssMb: Math.max(...servers.map((n) => rssMb(n.process.child.pid!))),
    agentCpuPercent: cpu[servers.length] ?? NaN,
    agentRssMb: rssMb(agent.process.child.pid!),
    maxConnections: maxConns,
  };
}

/**
 * Registers (present) or removes a second Greeter instance through `backendAgent` (the backend's own
 * agent, not the environments') and times how long every environment takes to see it.
 */
async function propagate(backendAgent: ConsulApi, stack: Stack, workers: Worker[], change: number, present: boolean): Promise<number[]> {
  const id = 'g-change';
  for (const w of workers) send(w, { type: 'expect', change, id, present });
  const t0 = Date.now();
  if (present) {
    await registerTtlService(backendAgent, { id, name: 'greeter', address: '127.0.0.1', port: stack.greeter.port, ttl: '10m', deregisterCriticalServiceAfter: '10m', initialStatus: 'passing' }, { timeoutMs: 15_000 });
  } else {
    await deregisterService(backendAgent, id, { timeoutMs: 15_000 });
  }
  const seen: number[] = [];
  for (const w of workers) {
    const pick = (m: FromWorker) => (m.type === 'seen' && m.change === change ? m.at : undefined);
    let at = await message(w, pick, 20_000);
    if (!at) {
      send(w, { type: 'collect', change });
      at = await message(w, pick, 5_000);
    }
    seen.push(...(at ?? []).map((t) => t - t0));
  }
  return seen;
}

async function runRow(stack: Stack, agent: ClusterNode, backendNode: ClusterNode, environments: number): Promise<Row> {
  const backendAgent = createConsulApi({ address: backendNode.address, token: stack.backendToken, timeoutMs: 15_000 });
  const processes = environments <= 10 ? 1 : environments <= 100 ? 2 : 4;
  const env = { ...process.env, CONSUL_HTTP_ADDR: agent.address, CONSUL_HTTP_TOKEN: stack.gatewayToken, CONFIG_PREFIX: PREFIX, POWERTOOLS_LOG_LEVEL: 'ERROR' };
  const workers: Worker[] = [];
  // The most connections 127.0.0.1 held at any time in the row, cold starts included.
  const port = Number(agent.address.split(':')[1]);
  let peakConnections = 0;
  const sampler = setInterval(() => (peakConnections = Math.max(peakConnections, connectionsByClientIp(port).get('127.0.0.1') ?? 0)), 100);
  for (let p = 0; p < processes; p++) {
    const share = Math.floor(environments / processes) + (p < environments % processes ? 1 : 0);
    workers.push(startWorker(env, { environments: share, rampMs: Math.min(5_000, environments * 5), invokeEveryMs: 1_000 }));
  }
  try {
    const ready = [];
    for (const w of workers) {
      const r = await message(w, (m) => (m.type === 'ready' ? m : undefined), 120_000);
      if (!r) throw new Error(`a fleet worker for N=${environments} did not get ready`);
      ready.push(r);
    }
    const load = await measureWindow(stack, agent, WINDOW_MS);
    console.error(`[fleet] N=${environments} window: ${JSON.stringify(load)} peak connections ${peakConnections}`);
    const delays: number[] = [];
    for (let c = 1; c <= CHANGES; c++) {
      // Changes apart: a watch that just answered waits out discoveryMinIntervalMs and its re-poll spread
      // (together at most 1.5 s) before it asks again, which would otherwise be timed as propagation.
      await sleep(CHANGE_GAP_MS);
      delays.push(...(await propagate(backendAgent, stack, workers, c, c % 2 === 1)));
    }
    const reached = delays.filter((d) => Number.isFinite(d));
    for (const w of workers) send(w, { type: 'stop' });
    const finals = await Promise.all(workers.map((w) => message(w, (m) => (m.type === 'stats' ? m : undefined), 30_000)));
    const total = (f: (s: NonNullable<(typeof finals)[number]>) => number) => finals.reduce((a, s) => a + (s ? f(s) : 0), 0);
    const prop = stats(reached);
    const coldStarts = stats(ready.flatMap((r) => r.coldStartMs));
    const row: Row = {
      environments,
      processes,
      consulRequestsPerSec: round(load.serverRpcPerSec),
      consulCpuPercent: round(load.serverCpuPercent),
      consulRssMb: round(load.serverRssMb),
      propagationP50Ms: round(prop.p50, 0),
      propagationMaxMs: round(reached.length ? Math.max(...reached) : NaN, 0),
      connectionsPerIp: load.maxConnections,
      peakConnectionsPerIp: peakConnections,
      http429: total((s) => s.throttledPolls),
      agent: agent.name,
      agentHttpPerSec: round(load.agentHttpPerSec),
      agentRpcToServersPerSec: round(load.agentRpcToServersPerSec),
      serverBlockingQueriesPerSec: round(load.serverBlockingQueriesPerSec),
      agentCpuPercent: round(load.agentCpuPercent),
      agentRssMb: round(load.agentRssMb),
      changeReachedEnvironments: `${reached.length}/${delays.length}`,
      coldStartP50Ms: round(coldStarts.p50, 0),
      coldStartFailures: ready.reduce((a, r) => a + r.coldStartFailures, 0),
      invocations: total((s) => s.invocations),
      invocationsWithoutInstances: total((s) => s.invocationFailures),
      environmentsWithLeaseFailures: total((s) => s.leaseFailures),
      clientRequestsByOperation: finals.reduce<Record<string, number>>((a, s) => {
        for (const [op, n] of Object.entries(s?.consulRequests ?? {})) a[op] = (a[op] ?? 0) + n;
        return a;
      }, {}),
    };
    console.error(`[fleet] N=${environments} on ${agent.name}: ${JSON.stringify(row)}`);
    return row;
  } finally {
    clearInterval(sampler);
    backendAgent.destroy();
    // Workers exit by themselves after 'stop'; any still running (a failed row) is killed.
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  }
}

/** Least-squares line through (x, y): slope and intercept. */
function fit(points: Array<[number, number]>): { slope: number; intercept: number } {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  const slope = sxx === 0 ? 0 : points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx;
  return { slope, intercept: my - slope * mx };
}

async function main(): Promise<void> {
  const cluster = await startConsulCluster({ clients: 2, clientLimits: [{ httpMaxConnsPerClient: RAISED_CAP }, {}], telemetry: true });
  const stackParts: { greeter?: GreeterBackend } = {};
  const admin = createConsulApi({ address: cluster.clients[0]!.address, token: cluster.managementToken, timeoutMs: 5_000 });
  try {
    const params = { configPrefix: PREFIX, greeterService: 'greeter', leaseService: 'greeter-gateway-lambda' };
    const gatewayToken = await provisionToken(admin, ['greeter-gateway', 'greeter-gateway-lease'], params);
    const backendToken = await provisionToken(admin, 'greeter-backend', params);
    for (const [k, v] of Object.entries(CONFIG)) await kvPut(admin, `${PREFIX}${k}`, String(v));
    const greeter = await startGreeter({ id: 'g-1', consulAddress: cluster.clients[0]!.address, token: backendToken });
    stackParts.greeter = greeter;
    for (let until = Date.now() + 15_000; !(await passingIds(admin, 'greeter')).includes('g-1'); await sleep(200)) if (Date.now() > until) throw new Error('g-1 not passing');
    const stack: Stack = { cluster, gatewayToken, backendToken, greeter };

    const idle = await measureWindow(stack, cluster.clients[0]!, Math.min(10_000, WINDOW_MS));
    console.error(`[fleet] idle cluster: ${JSON.stringify(idle)}`);
    const rows: Row[] = [];
    const [raised, standard] = [cluster.clients[0]!, cluster.clients[1]!];
    for (const n of SIZES) rows.push(await runRow(stack, raised, standard, n));
    const overCap = OVER_CAP > 0 ? await runRow(stack, standard, raised, OVER_CAP) : undefined;

    // The load is linear in N only until something saturates (429s, environments left without
    // instances, a machine out of CPU): fit the rows before that, and name the ones past it.
    const linear = rows.filter((r) => r.http429 === 0 && r.invocationsWithoutInstances === 0);
    const fitted = linear.length >= 2 ? linear : rows;
    const saturated = rows.filter((r) => !linear.includes(r)).map((r) => r.environments);
    const perEnv = (key: keyof Row) => fit(fitted.map((r) => [r.environments, Number(r[key])]));
    const agentHttp = perEnv('agentHttpPerSec');
    const serverRpc = perEnv('consulRequestsPerSec');
    const conns = perEnv('connectionsPerIp');
    const cpu = perEnv('consulCpuPercent');
    const agentCpu = perEnv('agentCpuPercent');
    const formula =
      `N warm environments (lease TTL ${CONFIG.leaseTtlSeconds} s, config max age ${CONFIG.configMaxAgeSeconds} s, discovery wait ${CONFIG.discoveryWaitSeconds} s, one watched service) cost ` +
      `≈ ${round(agentHttp.slope, 3)}·N + ${round(agentHttp.intercept)} HTTP requests/s and ≈ ${round(agentCpu.slope, 3)}·N + ${round(agentCpu.intercept)} % of a core at their client agent, ` +
      `≈ ${round(serverRpc.slope, 3)}·N + ${round(serverRpc.intercept)} RPC requests/s and ≈ ${round(cpu.slope, 3)}·N + ${round(cpu.intercept)} % of a core across the three servers, ` +
      `and ≈ ${round(conns.slope, 2)}·N + ${round(conns.intercept)} open connections from their source IP to the agent ` +
      `(fitted over N = ${fitted.map((r) => r.environments).join(', ')}${saturated.length ? `; saturated at N = ${saturated.join(', ')}` : ''}).`;
    const result: FleetResult = {
      rows,
      formula,
      settings: { ...CONFIG, windowMs: WINDOW_MS, invokeEveryMs: 1_000, changesPerRow: CHANGES, raisedCap: RAISED_CAP, topology: '3 servers + 2 client agents on loopback (ACLs on); environments talk to one client agent' },
      idle: Object.fromEntries(Object.entries(idle).map(([k, v]) => [k, round(v)])),
      overCap: overCap ? { ...overCap, cap: 200 } : undefined,
      fits: { agentHttp, agentCpu, serverRpc, conns, cpu, fittedOver: fitted.map((r) => r.environments), saturatedAt: saturated },
    };
    console.log(`wrote ${writeResult('fleet', result)}`);
    console.log(formula);
  } finally {
    admin.destroy();
    if (stackParts.greeter) await stopProcess(stackParts.greeter.process, 'SIGKILL');
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
