/**
 * `node --import tsx bench/cloudmap-sync.bench.ts`: the Cloud Map mirror on a
 * local moto server. Run 1 syncs BENCH_SERVICES × BENCH_INSTANCES instances
 * (default 100 × 100 = 10,000, every tenth unhealthy) into an empty namespace;
 * runs 2 and 3 change nothing and must make no write call (run 2 still pays
 * one GetService per new service to confirm its namespace; run 3 is the warm
 * steady state). Prints duration, calls per operation and peak RSS.
 */
import { readFileSync } from 'node:fs';
import { CreateHttpNamespaceCommand, GetOperationCommand, type ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { applyPlan } from '../lib/cloudmap/apply';
import { createCloudMapClient } from '../lib/cloudmap/cloudmap-client';
import { planSync } from '../lib/cloudmap/plan';
import { readCloudMapState } from '../lib/cloudmap/read-state';
import { isWriteAction, type DesiredService } from '../lib/cloudmap/types';
import { silentLog } from '../lib/log/logger';
import { startMoto } from '../scripts/stack/moto';
import { runMain, timed } from './measure';

const SERVICES = Number(process.env.BENCH_SERVICES ?? 100);
const PER_SERVICE = Number(process.env.BENCH_INSTANCES ?? 100);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const MARKER = 'health-sync/bench';

interface RunResult {
  name: string;
  readMs: number;
  planMs: number;
  applyMs: number;
  actions: number;
  writes: number;
  errors: number;
  retries: number;
  calls: Record<string, number>;
}

function desiredState(): DesiredService[] {
  return Array.from({ length: SERVICES }, (_, s) => ({
    name: `svc-${String(s).padStart(3, '0')}`,
    instances: Array.from({ length: PER_SERVICE }, (_, i) => ({
      id: `svc-${s}-i-${i}`,
      ipv4: `10.${s % 256}.${Math.floor(i / 256)}.${i % 256}`,
      port: 50051 + (i % 4),
      tags: ['grpc', `v${1 + (i % 3)}`],
      meta: { version: '1.4.2', zone: `eu-west-1${'abc'[i % 3]}`, team: 'platform' },
      healthy: i % 10 !== 0,
    })),
  }));
}

async function run(name: string, client: ServiceDiscoveryClient, namespaceId: string, desired: DesiredService[]): Promise<RunResult> {
  const read = await timed(() => readCloudMapState(client, namespaceId, { ownerMarker: MARKER, concurrency: CONCURRENCY }));
  const state = read.value;
  const plan = await timed(async () => planSync(desired, state, { namespaceId, ownerMarker: MARKER }));
  const actions = plan.value;
  const apply = await timed(() => applyPlan(client, actions, { concurrency: CONCURRENCY, log: silentLog }));
  const summary = apply.value;
  const calls = { ...state.calls };
  for (const [op, n] of Object.entries(summary.calls)) calls[op] = (calls[op] ?? 0) + n;
  const writes = Object.values(summary.calls).reduce((a, b) => a + b, 0);
  return {
    name,
    readMs: read.ms,
    planMs: plan.ms,
    applyMs: apply.ms,
    actions: actions.filter(isWriteAction).length,
    writes,
    errors: summary.errors.length,
    retries: summary.retries,
    calls,
  };
}

/** Peak resident memory of a process in MB, from Linux /proc (undefined elsewhere). */
function peakRssOfPid(pid: number | undefined): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function printTable(results: RunResult[], peakRssMb: number, maxRssMb: number, motoPeakMb: number | undefined): void {
  const ops = [...new Set(results.flatMap((r) => Object.keys(r.calls)))].sort();
  const col = (s: string | number, w = 12) => String(s).padStart(w);
  console.log(
    `\nnode ${process.version}, moto on loopback, ${SERVICES} services × ${PER_SERVICE} instances = ${SERVICES * PER_SERVICE}, concurrency ${CONCURRENCY}\n`,
  );
  console.log(`${''.padEnd(34)}${results.map((r) => col(r.name, 14)).join('')}`);
  const row = (label: string, f: (r: RunResult) => string | number) =>
    console.log(`${label.padEnd(34)}${results.map((r) => col(f(r), 14)).join('')}`);
  row('read ms', (r) => r.readMs.toFixed(0));
  row('plan ms', (r) => r.planMs.toFixed(1));
  row('apply ms', (r) => r.applyMs.toFixed(0));
  row('total s', (r) => ((r.readMs + r.planMs + r.applyMs) / 1000).toFixed(2));
  row('write actions planned', (r) => r.actions);
  row('write calls', (r) => r.writes);
  row('errors', (r) => r.errors);
  row('SDK retries', (r) => r.retries);
  for (const op of ops) row(`  ${op}`, (r) => r.calls[op] ?? 0);
  row('calls total', (r) => Object.values(r.calls).reduce((a, b) => a + b, 0));
  console.log(`\npeak RSS (node, sampled every 50 ms): ${peakRssMb.toFixed(0)} MB; maxRSS (resourceUsage): ${maxRssMb.toFixed(0)} MB`);
  if (motoPeakMb !== undefined) console.log(`peak RSS of moto_server (VmHWM): ${motoPeakMb.toFixed(0)} MB`);
}

async function main(): Promise<void> {
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const moto = await startMoto();
  try {
    const client = createCloudMapClient({ region: 'eu-west-1', endpoint: moto.endpoint, maxAttempts: 3 });
    const op = await client.send(new CreateHttpNamespaceCommand({ Name: 'cgl-bench' }));
    const namespaceId = (await client.send(new GetOperationCommand({ OperationId: op.OperationId }))).Operation?.Targets?.NAMESPACE;
    if (!namespaceId) throw new Error('moto returned no namespace id');
    const desired = desiredState();
    const results = [
      await run('1: from empty', client, namespaceId, desired),
      await run('2: no change', client, namespaceId, desired),
      await run('3: no change', client, namespaceId, desired),
    ];
    clearInterval(sampler);
    printTable(results, peakRss / 2 ** 20, process.resourceUsage().maxRSS / 1024, peakRssOfPid(moto.process.child.pid));
    const bad = results.slice(1).filter((r) => r.writes > 0);
    if (bad.length > 0 || results.some((r) => r.errors > 0)) throw new Error('a no-change run wrote, or a run had errors');
    client.destroy();
  } finally {
    clearInterval(sampler);
    await moto.stop();
  }
}

runMain(main);
