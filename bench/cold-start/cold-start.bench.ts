/**
 * `npm run bench:cold`: cold starts of the packaged `greet` bundle as Lambda measures them, in the
 * Lambda Runtime Interface Emulator with the official Node runtime client (scripts/rie/). Each run is
 * a new emulator: init (the emulator's INIT REPORT) plus the first invocation (its Duration, which in
 * the emulator includes init, less init). The parts:
 * - against-floor.ts: greet against the floor Lambda, interleaved, with the entry-shim, ES-module and
 *   greet as packaged by default (with its lazy V8 code cache, scripts/esbuild/code-cache.cjs), and
 *   beside it greet without the cache (CODE_CACHE=0) and with the eager one;
 * - bundle-load.ts: the packaged bundle's load in a fresh node, the import step on its own;
 * - outages.ts: cold starts on a 3-server cluster meeting a leader election or an unreachable Consul;
 * - cold-report.ts: the figures and the console tables; cold-run.ts: one cold start and its trace;
 * - first-invoke-profile.ts (`--profile`): a CPU profile of the first invocation, per function and module.
 * The step breakdown comes from the function itself (COLD_START_TRACE=1). Env: BENCH_COLD_N (rounds,
 * default 15), BENCH_COLD_OUTAGE_N (runs per outage scenario, default 3), BENCH_COLD_SCENARIOS
 * (default "floor,election,unreachable"). Writes bench/out/cold-start.json (`--publish`: also bench/results/).
 */
import { packageFunctions, type PackagedFunction } from '../../scripts/rie/package-functions';
import { ensureRic } from '../../scripts/rie/ric';
import { ensureRieBinary } from '../../scripts/rie/rie-binary';
import { median, runMain } from '../measure';
import { writeResult } from '../results';
import { greetAgainstFloor } from './against-floor';
import { firstInvokeProfile } from './first-invoke-profile';
import { floorFigures, printScenario, scenarioSummary } from './cold-report';
import { outages } from './outages';

const N = Number(process.env.BENCH_COLD_N ?? 15);
const OUTAGE_N = Number(process.env.BENCH_COLD_OUTAGE_N ?? 3);
const SCENARIOS = new Set((process.env.BENCH_COLD_SCENARIOS ?? 'floor,election,unreachable').split(','));
/** What a cold start during an outage must stay under (the failover bound). */
const OUTAGE_BOUND_MS = 2_000;

/** Packages greet without its V8 code cache and with the eager one, each named for its variant; `keep` collects the packages to remove. */
async function otherPackages(keep: Array<{ remove(): void }>): Promise<{ plain?: PackagedFunction; eager?: PackagedFunction }> {
  const others: { plain?: PackagedFunction; eager?: PackagedFunction } = {};
  for (const [k, codeCache] of [
    ['plain', false],
    ['eager', 'eager'],
  ] as const) {
    const p = await packageFunctions({ env: { LOG_LEVEL: 'INFO' }, codeCache });
    keep.push(p);
    const fn = p.functions.get('greet');
    if (fn) others[k] = { ...fn, name: `greet+${k === 'plain' ? 'plain' : 'eagercache'}` };
  }
  return others;
}

async function main(): Promise<void> {
  ensureRieBinary((l) => console.error(l));
  ensureRic((l) => console.error(l));
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // The default package (with its lazy code cache), and with SCENARIOS floor the other two packages beside it.
  const pkg = await packageFunctions({ env: { LOG_LEVEL: 'INFO' }, codeCache: true });
  packages.push(pkg);
  try {
    const greet = pkg.functions.get('greet');
    if (!greet) throw new Error('no greet function in the package');
    const result: Record<string, unknown> = {};
    if (SCENARIOS.has('floor')) {
      const { runs, load } = await greetAgainstFloor(greet, pkg.dir, await otherPackages(packages), N);
      Object.assign(result, floorFigures(runs, load, N));
    }
    if (SCENARIOS.has('election') || SCENARIOS.has('unreachable')) {
      const o = await outages(greet, OUTAGE_N, { election: SCENARIOS.has('election'), unreachable: SCENARIOS.has('unreachable') });
      const healthy = scenarioSummary(o.healthy);
      result.clusterHealthy = healthy;
      console.log(`\ncold starts on a 3-server cluster (${OUTAGE_N} each; bound ${OUTAGE_BOUND_MS} ms on the first invocation)`);
      console.log('scenario                 median total   max total  first inv.  statuses');
      printScenario('healthy', healthy, o.healthy);
      if (o.election.length) {
        const e = { ...scenarioSummary(o.election, OUTAGE_BOUND_MS), medianElectionMs: median(o.election.map((r) => r.electionMs)) };
        result.election = e;
        printScenario('leader election', e, o.election);
        console.log(`  (a new leader took ${e.medianElectionMs} ms median after the kill)`);
      }
      if (o.refused.length) {
        const refused = scenarioSummary(o.refused, OUTAGE_BOUND_MS);
        const frozen = scenarioSummary(o.frozen, OUTAGE_BOUND_MS);
        result.unreachable = { refused, frozen };
        printScenario('unreachable: refused', refused, o.refused);
        printScenario('unreachable: frozen', frozen, o.frozen);
      }
    }
    const node = typeof result.runtimeNode === 'string' ? { node: result.runtimeNode } : undefined;
    console.log(`\nwrote ${writeResult('cold-start', result, undefined, node)}`);
  } finally {
    removeAll();
  }
}

/** The packages made (default and code-cache ones), removed at the end or when the run is stopped. */
const packages: Array<{ remove(): void }> = [];
const removeAll = () => packages.splice(0).forEach((p) => p.remove());

// --profile: where the first invocation's CPU goes instead (first-invoke-profile.ts).
if (process.argv.includes('--profile')) runMain(firstInvokeProfile);
else runMain(main, removeAll);
