/**
 * One process of the fleet model: `environments` warm execution environments, each its own
 * gateway runtime exactly as functions/greet.ts builds it (createGatewayRuntime: ConsulApi,
 * ConfigStore, EnvironmentLease, ServiceWatchRegistry over the discovery source DISCOVERY_SOURCE
 * names), invoked about
 * once per `invokeEveryMs` with the use case's start (rt.begin: config refresh when due, lease
 * renewal when due) and a read of the discovery watch. No gRPC call: Consul's load is measured.
 * Environment: CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONFIG_PREFIX, DISCOVERY_SOURCE and what the
 * source needs (CONSUL_DNS_ADDR, CLOUDMAP_*), FLEET_SETTINGS (JSON).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { greeterQuery } from '../../lib/greeter/greet';
import { createGatewayRuntime, type GatewayRuntime } from '../../lib/greeter/gateway-runtime';
import { silentLog } from '../../lib/log/logger';
import type { FromWorker, ToWorker, WorkerSettings } from './fleet-protocol';

const settings = JSON.parse(process.env.FLEET_SETTINGS ?? '{}') as WorkerSettings;
const send = (m: FromWorker) => process.send?.(m);
// Every runtime adds a SIGTERM listener (lease release); a thousand of them are expected here.
process.setMaxListeners(0);

interface Env {
  rt: GatewayRuntime;
  /** The `address:port` of every instance in the list (a DNS answer carries no service id). */
  endpoints: Set<string>;
  /** When the list last changed (or was first known). */
  changedAt: number;
  /** Pending expectation: the change number and when this environment met it. */
  seen?: { change: number; endpoint: string; present: boolean; at?: number };
}

const envs: Env[] = [];
let stopping = false;
let invocations = 0;
let invocationFailures = 0;

async function invoke(env: Env): Promise<void> {
  invocations++;
  try {
    const loaded = await env.rt.begin();
    const watch = env.rt.watches.get(greeterQuery(loaded.values));
    watch.ensureFresh();
    if (!watch.current()) await watch.waitForFirst(loaded.values.coldStartWaitMs);
    if (!watch.current()?.length) invocationFailures++;
  } catch {
    invocationFailures++;
  }
}

function check(env: Env, at: number): void {
  const s = env.seen;
  if (s && s.at === undefined && env.endpoints.has(s.endpoint) === s.present) {
    s.at = at;
    maybeReport(s.change);
  }
}

function maybeReport(change: number): void {
  if (!envs.every((e) => e.seen?.change === change && e.seen.at !== undefined)) return;
  send({ type: 'seen', change, at: envs.map((e) => e.seen?.at ?? NaN) });
}

async function start(i: number): Promise<number> {
  await sleep(Math.floor((i / settings.environments) * settings.rampMs));
  const env: Env = { rt: createGatewayRuntime(silentLog), endpoints: new Set(), changedAt: 0 };
  envs.push(env);
  const t0 = Date.now();
  await invoke(env);
  const took = Date.now() - t0;
  // The subscription sees every change of the list the moment the watch accepts it.
  const loaded = await env.rt.begin({ lease: false });
  const watch = env.rt.watches.get(greeterQuery(loaded.values));
  env.endpoints = endpointsOf(watch.current() ?? []);
  env.changedAt = Date.now();
  watch.subscribe((list) => {
    env.endpoints = endpointsOf(list);
    env.changedAt = Date.now();
    check(env, env.changedAt);
  });
  void (async () => {
    while (!stopping) {
      await sleep(settings.invokeEveryMs * (0.5 + Math.random()));
      if (!stopping) await invoke(env);
    }
  })();
  return took;
}

process.on('message', (m: ToWorker) => {
  if (m.type === 'expect') {
    for (const env of envs) {
      env.seen = { change: m.change, endpoint: m.endpoint, present: m.present };
      // Already matching (the change outran this message): it matched when the list last changed.
      check(env, env.changedAt);
    }
  } else if (m.type === 'collect') {
    send({ type: 'seen', change: m.change, at: envs.map((e) => (e.seen?.change === m.change ? (e.seen.at ?? NaN) : NaN)) });
  } else if (m.type === 'stop') void stop();
});

async function stop(): Promise<void> {
  stopping = true;
  const sum = (f: (e: Env) => number) => envs.reduce((a, e) => a + f(e), 0);
  const consulRequests: Record<string, number> = {};
  for (const e of envs) for (const [op, n] of e.rt.consul.requestCounts) consulRequests[op] = (consulRequests[op] ?? 0) + n;
  send({
    type: 'stats',
    invocations,
    invocationFailures,
    throttledPolls: sum((e) => e.rt.watches.all().reduce((a, w) => a + w.snapshot().throttled, 0)),
    leaseFailures: sum((e) => (e.rt.lease.snapshot().failures > 0 ? 1 : 0)),
    leaseReRegistrations: sum((e) => e.rt.lease.snapshot().reRegistrations),
    consulRequests,
    cloudMapCalls: sum((e) => cloudMapCalls(e.rt)),
  });
  // Leases go now rather than lingering in the catalog for the next row.
  await Promise.allSettled(envs.map((e) => e.rt.lease.release(2_000)));
  for (const e of envs) e.rt.close();
  process.disconnect?.();
  process.exit(0);
}

const endpointsOf = (list: ReadonlyArray<{ address: string; port: number }>) => new Set(list.map((x) => `${x.address}:${x.port}`));

/** DiscoverInstances calls the runtime's Cloud Map reader made (0 for other sources, or a runtime without one). */
function cloudMapCalls(rt: GatewayRuntime): number {
  // Read through a narrow shape: the discovery snapshot is the runtime's, the field exists only with a Cloud Map source.
  const discovery = (rt as { discovery?: { snapshot(): { cloudMapCalls?: number } } }).discovery;
  return discovery?.snapshot().cloudMapCalls ?? 0;
}

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

async function main(): Promise<void> {
  const base = process.memoryUsage();
  try {
    // A source that cannot be built (a bad or missing setting) fails the first runtime: say so once.
    createGatewayRuntime(silentLog).close();
  } catch (err) {
    send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    process.disconnect?.();
    process.exit(0);
  }
  const times = await Promise.all(Array.from({ length: settings.environments }, (_, i) => start(i)));
  const now = process.memoryUsage();
  send({
    type: 'ready',
    environments: envs.length,
    coldStartFailures: invocationFailures,
    coldStartMs: times,
    memory: { baseRssMb: mb(base.rss), rssMb: mb(now.rss), baseHeapMb: mb(base.heapUsed), heapMb: mb(now.heapUsed) },
    cloudMapCalls: envs.reduce((a, e) => a + cloudMapCalls(e.rt), 0),
  });
}

void main();
