/**
 * `npm run chaos`: each failure scenario under steady traffic, against the packaged greet bundle
 * running in its own process (scripts/chaos/traffic.mjs), on real parts (chaos-stack.ts): a 3-server
 * Consul cluster with two client agents, a second datacenter joined over the WAN, Greeter backends,
 * and moto holding the Cloud Map mirror the packaged health-sync job writes (DISCOVERY_FALLBACK=cloudmap).
 * "Consul entirely down" (cold start, warm, and the return) runs last: it kills every Consul node.
 * Prints one row per scenario: requests sent and failed during the fault window, p50/p99/max
 * latency in that window, and the time from the fault to the last failed or slow request; then the
 * same as a Markdown table. CHAOS_RESULTS=<file> also writes the rows and that table as JSON;
 * CHAOS_ONLY=<text> runs only the scenarios whose name contains it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopAll } from '../stack/processes';
import { startChaosStack, unpackBundles, type ChaosStack } from './chaos-stack';
import { chaosResults, fixedWidthTable, markdownTable, type ChaosRow } from './chaos-table';
import { consulDownCold, consulDownWarm } from './consul-down';
import { backendFaults, coldStartDuringElection, nodeFaults, type ScenarioRun } from './fault-scenarios';

const WINDOW_MS = Number(process.env.CHAOS_WINDOW_MS ?? 6_000);

/** Last, since they take the whole of Consul down (the second datacenter too, which stays down). */
async function consulDown(s: ChaosStack, r: ScenarioRun): Promise<ChaosRow[]> {
  const cold = r.wanted('Consul entirely down (cold)');
  const warm = r.wanted('Consul entirely down (warm)') || r.wanted('Consul back');
  if (!cold && !warm) return [];
  // The mirror is written afresh first, as the scheduled job would have.
  await s.refreshMirror();
  const down = {
    cluster: s.cluster,
    otherDatacenters: [s.dc2],
    bundle: r.bundle,
    env: s.env,
    windowMs: r.windowMs,
    backendsPassing: () => s.localPassing(60_000, 'local backends passing after the restart'),
  };
  return [...(cold ? [await consulDownCold(down)] : []), ...(warm ? await consulDownWarm(down) : [])];
}

/** Prints the tables and, with CHAOS_RESULTS, writes the results file. */
function report(rows: ChaosRow[]): void {
  console.log(`\nnode ${process.version}, packaged greet bundle, fault window ${WINDOW_MS} ms\n`);
  console.log(fixedWidthTable(rows));
  console.log(`\n${markdownTable(rows)}`);
  const out = process.env.CHAOS_RESULTS;
  if (!out) return;
  const results = chaosResults(rows, { date: new Date(), node: process.version, windowMs: WINDOW_MS });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nresults written to ${out}`);
}

async function main(): Promise<void> {
  // The moto client in this process: the SDK's Node 20 notice is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const work = mkdtempSync(join(tmpdir(), 'consul-grpc-lambda-chaos-'));
  let stack: ChaosStack | undefined;
  try {
    console.log('• packaging the greet function…');
    const bundles = await unpackBundles(work);
    console.log('• starting a 3-server Consul cluster, 2 client agents and a second datacenter…');
    stack = await startChaosStack(bundles.healthSync);
    const only = process.env.CHAOS_ONLY;
    const run: ScenarioRun = { bundle: bundles.greet, windowMs: WINDOW_MS, wanted: (name) => !only || name.includes(only) };

    console.log('• running the scenarios (each under steady traffic)…');
    const rows = [...(await nodeFaults(stack, run)), ...(await backendFaults(stack, run))];
    if (run.wanted('cold start during an election')) rows.push(await coldStartDuringElection(stack, run));
    rows.push(...(await consulDown(stack, run)));
    report(rows);
  } finally {
    await stopAll(3_000);
    await stack?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
