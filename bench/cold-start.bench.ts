/**
 * `npm run bench:cold`: cold starts of the packaged `greet` bundle as Lambda measures them,
 * in the Lambda Runtime Interface Emulator with the official Node runtime client (scripts/rie/),
 * against a real Consul dev agent with ACLs and two real Greeters; beside it, interleaved,
 * the floor Lambda (bench/floor-lambda/: grpc-js and one SayHello to a fixed address), built
 * with the same esbuild settings. Each run is a new emulator: init (the emulator's INIT REPORT)
 * plus the first invocation (its Duration, which in the emulator includes init, less init). Both
 * also run loaded through a one-line CommonJS entry shim and built as ES modules, the two ways
 * around the export lexer Node runs when the runtime client import()s a CommonJS handler. And
 * greet packaged with its V8 code cache (CODE_CACHE=1, and CODE_CACHE=eager; opt-in,
 * scripts/esbuild/code-cache.cjs) in the same rounds, beside the default package without one.
 *
 * Then, on a real 3-server cluster: cold starts that meet a leader election (the leader is
 * SIGKILLed just before the invocation), and cold starts with Consul unreachable (a closed
 * port, and a SIGSTOPped agent that accepts connections and answers nothing).
 *
 * The step breakdown comes from the function itself (COLD_START_TRACE=1, see
 * lib/runtime/cold-start-trace.ts). Env: BENCH_COLD_N (pairs, default 15), BENCH_COLD_OUTAGE_N
 * (runs per outage scenario, default 3), BENCH_COLD_SCENARIOS (default "floor,election,unreachable").
 */
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { provisionToken } from '../scripts/stack/acl-admin';
import { createConsulApi, type ConsulApi } from '../lib/consul/consul-api';
import { COLD_START_TRACE_MESSAGE, type TraceStep } from '../lib/runtime/cold-start-trace';
import { startLambdaRie } from '../scripts/rie/lambda-rie';
import { bundlePath, packageFunctions, type PackagedFunction } from '../scripts/rie/package-functions';
import { ensureRic } from '../scripts/rie/ric';
import { ensureRieBinary } from '../scripts/rie/rie-binary';
import { extractZip } from '../scripts/rie/zip';
import { startConsulCluster, type ConsulCluster } from '../scripts/stack/consul-cluster';
import { startGreeter, type GreeterBackend } from '../scripts/stack/greeters';
import { passingIds } from '../scripts/stack/passing';
import { freePort, stopAll, stopProcess } from '../scripts/stack/processes';
import { seedDefaultConfig } from '../scripts/stack/seed-config';
import { eventually, httpEvent, startTestStack } from '../test/integration/harness';
import { withEntryShim } from './floor-lambda/entry-shim';
import { packageEsmVariant, packageFloor } from './floor-lambda/package-floor';
import { writeResult, type ColdStartResult } from './results';

const N = Number(process.env.BENCH_COLD_N ?? 15);
const OUTAGE_N = Number(process.env.BENCH_COLD_OUTAGE_N ?? 3);
const SCENARIOS = new Set((process.env.BENCH_COLD_SCENARIOS ?? 'floor,election,unreachable').split(','));
/** The packaged template's CONFIG_PREFIX for stage "local". */
const PREFIX = 'config/greeter-gateway/local/';
/** What a cold start during an outage must stay under (the failover issue's bound). */
const OUTAGE_BOUND_MS = 2_000;

/** One cold start: the emulator's figures, the HTTP status the function answered, and its own trace. */
interface ColdRun {
  initMs: number;
  firstInvokeMs: number;
  totalMs: number;
  status: number;
  /** The error code the function answered with, when it did not answer 200. */
  error?: string;
  peakRssMb?: number;
  steps?: TraceStep[];
  /** The function's warnings and errors during the cold invocation (message: error message). */
  warnings?: string[];
}

/** A median, rounded to 0.1 ms. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length % 2 ? (s[(s.length - 1) / 2] ?? NaN) : ((s[s.length / 2 - 1] ?? NaN) + (s[s.length / 2] ?? NaN)) / 2;
  return Math.round(m * 10) / 10;
}

/** The steps of the function's trace line among `logs`, if it logged one. */
function traceSteps(logs: string[]): TraceStep[] | undefined {
  const line = logs.find((l) => l.includes(`"message":"${COLD_START_TRACE_MESSAGE}"`));
  if (!line) return undefined;
  return (JSON.parse(line.slice(line.indexOf('{'))) as { coldStart: { steps: TraceStep[] } }).coldStart.steps;
}

/** The function's WARN and ERROR log lines among `logs`, shortened to message and error message. */
function warnings(logs: string[]): string[] {
  const out: string[] = [];
  for (const l of logs) {
    if (!/"level":"(WARN|ERROR)"/.test(l)) continue;
    try {
      const j = JSON.parse(l.slice(l.indexOf('{'))) as { message?: string; error?: { message?: string } };
      out.push(j.error?.message ? `${j.message}: ${j.error.message}` : String(j.message));
    } catch {
      out.push(l.slice(0, 200));
    }
  }
  return out;
}

/**
 * Starts a new emulator for `fn`, invokes it once (its cold start) and stops it. A cold start that
 * failed before the use case ended its trace logs it on the next invocation: `flushTrace` makes one.
 */
async function coldRun(
  fn: PackagedFunction,
  env: Record<string, string>,
  name: string,
  o: { beforeInvoke?: () => Promise<void>; flushTrace?: boolean } = {},
): Promise<ColdRun> {
  // No extension: the emulator then SIGKILLs the runtime at stop, as Lambda does without one (both sides alike).
  const rie = await startLambdaRie({ fn, env, sigtermExtension: false });
  try {
    await o.beforeInvoke?.();
    const inv = await rie.invoke(httpEvent('GET', { name }));
    if (inv.runtimeInitMs === undefined) throw new Error(`${fn.name}: no INIT REPORT on a cold invocation:\n${inv.logs.join('\n')}`);
    const answer = inv.payload as { statusCode?: number; body?: string } | undefined;
    const status = answer?.statusCode ?? 0;
    const error = status === 200 ? undefined : errorCode(answer?.body);
    // In the emulator init runs inside the first invocation, so its Duration includes init.
    let steps = traceSteps(inv.logs);
    if (!steps && o.flushTrace) steps = traceSteps((await rie.invoke(httpEvent('GET', { name: `${name}-flush` }))).logs);
    const warned = warnings(inv.logs);
    return {
      initMs: inv.runtimeInitMs,
      firstInvokeMs: inv.report.durationMs - inv.runtimeInitMs,
      totalMs: inv.report.durationMs,
      status,
      ...(error ? { error } : {}),
      peakRssMb: inv.peakRssMb,
      steps,
      ...(warned.length ? { warnings: warned } : {}),
    };
  } finally {
    await rie.stop();
  }
}

/** The `error.code` of a JSON error body. */
function errorCode(body: string | undefined): string {
  try {
    return (JSON.parse(body ?? '') as { error?: { code?: string } }).error?.code ?? 'unknown';
  } catch {
    return 'unparsable';
  }
}

function expectOk(run: ColdRun, what: string): ColdRun {
  if (run.status !== 200) throw new Error(`${what} answered ${run.status} ${run.error ?? ''}`);
  return run;
}

/**
 * Ms to load `bundle` in a fresh node with the function's NODE_OPTIONS: by `import()`, as the Lambda
 * runtime client loads a handler (the ESM loader warmed first, as the client is itself ESM), or by `require`.
 */
function loadMs(bundle: string, how: 'import' | 'require', nodeOptions: string | undefined): number {
  const script =
    how === 'import'
      ? `import{performance as p}from'node:perf_hooks';await import('node:fs');const t=p.now();await import(${JSON.stringify(pathToFileURL(bundle).href)});process.stdout.write(String(p.now()-t))`
      : `const{performance:p}=require('node:perf_hooks');const t=p.now();require(${JSON.stringify(bundle)});process.stdout.write(String(p.now()-t))`;
  const args = how === 'import' ? ['--input-type=module', '-e', script] : ['-e', script];
  const r = spawnSync(process.execPath, args, {
    env: { PATH: process.env.PATH, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) },
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`${how} ${bundle} failed: ${r.stderr}`);
  return Number(r.stdout);
}

/** Median of each trace step over `runs`, in the order the steps happen. */
function stepMedians(runs: ColdRun[]): Array<{ step: string; ms: number }> {
  const byStep = new Map<string, number[]>();
  for (const r of runs) for (const s of r.steps ?? []) byStep.set(s.step, [...(byStep.get(s.step) ?? []), s.ms]);
  return [...byStep].map(([step, ms]) => ({ step, ms: median(ms) }));
}

const fmt = (x: number) => x.toFixed(1).padStart(8);

type Variant = 'greet' | 'floor' | 'greet+shim' | 'floor+shim' | 'greet+esm' | 'floor+esm' | 'greet+codecache' | 'greet+eagercache';

/** Interleaved cold starts of greet and the floor (each also through an entry shim, and built as an ES module) on the dev agent, and the import step. */
async function greetAgainstFloor(
  greet: PackagedFunction,
  packageDir: string,
  cached: { lazy?: PackagedFunction; eager?: PackagedFunction },
) {
  const stack = await startTestStack(PREFIX);
  const cleanup: Array<() => void> = [];
  try {
    await seedDefaultConfig(stack.admin, PREFIX);
    const [a] = [await stack.addGreeter({ id: 'cold-1' }), await stack.addGreeter({ id: 'cold-2' })];
    if (!a) throw new Error('no Greeter');
    const floor = await packageFloor(packageDir, greet, `127.0.0.1:${a.port}`);
    cleanup.push(floor.remove);
    console.log(
      `floor built with ${JSON.stringify(floor.options)} (serverless-esbuild keys not for esbuild: ${floor.ignored.join(', ') || 'none'})`,
    );
    const greetEnv = { CONSUL_HTTP_ADDR: stack.consul.address, CONSUL_HTTP_TOKEN: stack.gatewayToken, COLD_START_TRACE: '1' };
    const variants = new Map<Variant, { fn: PackagedFunction; env: Record<string, string> }>([
      ['greet', { fn: greet, env: greetEnv }],
      ['floor', { fn: floor.fn, env: {} }],
    ]);
    // Only a CommonJS bundle can be shimmed; an ESM build (.mjs) has no export lexer to avoid.
    const shims = (floor.options.format ?? 'cjs') === 'cjs' ? [withEntryShim(greet), withEntryShim(floor.fn)] : [];
    for (const [sh, env, name] of [
      [shims[0], greetEnv, 'greet+shim'],
      [shims[1], {}, 'floor+shim'],
    ] as const) {
      if (!sh) continue;
      cleanup.push(sh.remove);
      variants.set(name, { fn: sh.fn, env });
    }
    if ((floor.options.format ?? 'cjs') === 'cjs') {
      const esm = [
        await packageEsmVariant(packageDir, greet),
        await packageEsmVariant(packageDir, floor.fn, join(__dirname, 'floor-lambda', 'floor.ts')),
      ];
      cleanup.push(...esm.map((e) => e.remove));
      variants.set('greet+esm', { fn: esm[0]!.fn, env: greetEnv });
      variants.set('floor+esm', { fn: esm[1]!.fn, env: {} });
    }
    // greet packaged with its V8 code cache: the lazy one (what the top level compiles, CODE_CACHE=1) and
    // the eager one (every function compiled, CODE_CACHE=eager), as a runtime on the packaging V8 gets them.
    if (cached.lazy) variants.set('greet+codecache', { fn: cached.lazy, env: greetEnv });
    if (cached.eager) variants.set('greet+eagercache', { fn: cached.eager, env: greetEnv });
    const order = [...variants.keys()];
    const runOnce = async (v: Variant, i: number) => {
      const { fn, env } = variants.get(v) ?? {};
      if (!fn || !env) throw new Error(`no variant ${v}`);
      return expectOk(await coldRun(fn, env, `${v.replace('+', '-')}-${i}`), v);
    };
    // The import step, outside the emulator: each unpacked bundle loaded in a fresh node.
    const unpacked = mkdtempSync(join(tmpdir(), 'consul-grpc-lambda-cold-'));
    cleanup.push(() => rmSync(unpacked, { recursive: true, force: true }));
    const bundleOf = (fn: PackagedFunction, dir: string) => {
      extractZip(fn.zip, join(unpacked, dir));
      return bundlePath(fn, join(unpacked, dir));
    };
    const bundles = {
      greet: bundleOf(greet, 'greet'),
      floor: bundleOf(floor.fn, 'floor'),
      greetCodeCache: cached.lazy ? bundleOf(cached.lazy, 'greet-codecache') : undefined,
    };
    const load = {
      greetImport: [] as number[],
      floorImport: [] as number[],
      greetRequire: [] as number[],
      floorRequire: [] as number[],
      greetCodeCacheImport: [] as number[],
    };
    // One discarded round: the first start of anything pays for cold disk caches.
    for (const v of order) await runOnce(v, -1);
    const runs = new Map<Variant, ColdRun[]>(order.map((v) => [v, []]));
    for (let i = 0; i < N; i++) {
      // Rotate which goes first, so drift on a shared machine hits every variant alike.
      for (let k = 0; k < order.length; k++) {
        const v = order[(i + k) % order.length] as Variant;
        runs.get(v)?.push(await runOnce(v, i));
      }
      // In the same rounds, so the import figures see the same machine load as the cold starts.
      load.greetImport.push(loadMs(bundles.greet, 'import', greet.environment.NODE_OPTIONS));
      load.floorImport.push(loadMs(bundles.floor, 'import', floor.fn.environment.NODE_OPTIONS));
      if (bundles.greetCodeCache) load.greetCodeCacheImport.push(loadMs(bundles.greetCodeCache, 'import', greet.environment.NODE_OPTIONS));
      // An ES module build cannot be `require`d (Node 20): the figure is for CommonJS packages only.
      if (bundles.greet.endsWith('.js')) load.greetRequire.push(loadMs(bundles.greet, 'require', greet.environment.NODE_OPTIONS));
      if (bundles.floor.endsWith('.js')) load.floorRequire.push(loadMs(bundles.floor, 'require', floor.fn.environment.NODE_OPTIONS));
    }
    const loadMedians = Object.fromEntries(Object.entries(load).map(([k, xs]) => [`${k}Ms`, median(xs)])) as Record<
      'greetImportMs' | 'floorImportMs' | 'greetRequireMs' | 'floorRequireMs' | 'greetCodeCacheImportMs',
      number
    >;
    return { runs, load: loadMedians };
  } finally {
    for (const c of cleanup.reverse()) c();
    await stack.stop();
  }
}

/** A 3-server cluster with one client agent, tokens, config and two Greeters on the client. */
async function clusterStack() {
  const cluster = await startConsulCluster({ clients: 1 });
  const greeters: GreeterBackend[] = [];
  let admin: ConsulApi | undefined;
  const stop = async () => {
    await Promise.all(greeters.map((g) => stopProcess(g.process, 'SIGKILL')));
    admin?.destroy();
    await cluster.stop();
  };
  try {
    const client = cluster.clients[0];
    if (!client) throw new Error('no client agent');
    admin = createConsulApi({ address: client.address, token: cluster.managementToken });
    const params = { configPrefix: PREFIX, greeterService: 'greeter', leaseService: 'greeter-gateway-lambda' };
    const gatewayToken = await provisionToken(admin, ['greeter-gateway', 'greeter-gateway-lease'], params);
    const backendToken = await provisionToken(admin, 'greeter-backend', params);
    await seedDefaultConfig(admin, PREFIX);
    for (const id of ['e-1', 'e-2']) greeters.push(await startGreeter({ id, consulAddress: client.address, token: backendToken }));
    const api = admin;
    await eventually(async () => (await passingIds(api, 'greeter')).length === 2, 15_000, 'both Greeters passing');
    return { cluster, client, gatewayToken, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Every server answering and one of them leading: the state each outage run starts from. */
async function healed(cluster: ConsulCluster): Promise<void> {
  for (const n of cluster.nodes) {
    if (n.frozen) cluster.thaw(n);
    if (n.process.child.exitCode !== null || n.process.child.signalCode !== null) await cluster.restart(n);
  }
  await cluster.waitForLeader(30_000);
}

/** Cold starts on the cluster: healthy, meeting a leader election, and with the agent unreachable. */
async function outages(greet: PackagedFunction) {
  const c = await clusterStack();
  try {
    const env = { CONSUL_HTTP_ADDR: c.client.address, CONSUL_HTTP_TOKEN: c.gatewayToken, COLD_START_TRACE: '1' };
    const healthy: ColdRun[] = [];
    const election: Array<ColdRun & { electionMs: number }> = [];
    const refused: ColdRun[] = [];
    const frozen: ColdRun[] = [];
    await coldRun(greet, env, 'warm-up-disk');
    for (let i = 0; i < OUTAGE_N; i++) {
      await healed(c.cluster);
      healthy.push(expectOk(await coldRun(greet, env, `h${i}`), 'greet on a healthy cluster'));
      if (SCENARIOS.has('election')) {
        await healed(c.cluster);
        let elected: Promise<number> | undefined;
        // The emulator is up before the kill, so the invocation starts while there is no leader.
        const run = await coldRun(greet, env, `e${i}`, {
          flushTrace: true,
          beforeInvoke: async () => {
            const old = await c.cluster.waitForLeader();
            await c.cluster.kill(old);
            const t0 = performance.now();
            elected = c.cluster.waitForLeader(30_000).then(() => performance.now() - t0);
          },
        });
        election.push({ ...run, electionMs: Math.round((await (elected ?? Promise.resolve(NaN))) * 10) / 10 });
      }
      if (SCENARIOS.has('unreachable')) {
        await healed(c.cluster);
        refused.push(await coldRun(greet, { ...env, CONSUL_HTTP_ADDR: `127.0.0.1:${await freePort()}` }, `r${i}`, { flushTrace: true }));
        c.cluster.freeze(c.client);
        try {
          frozen.push(await coldRun(greet, env, `s${i}`, { flushTrace: true }));
        } finally {
          c.cluster.thaw(c.client);
        }
      }
    }
    return { healthy, election, refused, frozen };
  } finally {
    await c.stop();
  }
}

/** Median and max of a scenario's runs, the statuses answered, and whether every run stayed under the bound. */
function summary(runs: ColdRun[], bound?: number) {
  const totals = runs.map((r) => r.totalMs);
  return {
    n: runs.length,
    medianTotalMs: median(totals),
    maxTotalMs: Math.round(Math.max(...totals) * 10) / 10,
    medianInitMs: median(runs.map((r) => r.initMs)),
    medianFirstInvokeMs: median(runs.map((r) => r.firstInvokeMs)),
    statuses: runs.map((r) => (r.error ? `${r.status} ${r.error}` : String(r.status))),
    ...(bound ? { boundMs: bound, bounded: runs.every((r) => r.firstInvokeMs < bound) } : {}),
    runs: runs.map(({ steps, ...r }) => ({ ...r, ...(steps ? { steps } : {}) })),
  };
}

async function main(): Promise<void> {
  ensureRieBinary((l) => console.error(l));
  ensureRic((l) => console.error(l));
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // The default package (no code cache), and with SCENARIOS floor the two code-cache packages beside it.
  const pkg = await packageFunctions({ env: { LOG_LEVEL: 'INFO' }, codeCache: false });
  const pkgs = [pkg];
  const removeAll = () => pkgs.forEach((p) => p.remove());
  // Ctrl-C: stop every process started (Consul, Greeters, emulators) and the packages, not just this one.
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => void stopAll(1_000).finally(() => (removeAll(), process.exit(130))));
  try {
    const greet = pkg.functions.get('greet');
    if (!greet) throw new Error('no greet function in the package');
    const result: Partial<ColdStartResult> & Record<string, unknown> = {};
    if (SCENARIOS.has('floor')) {
      const cached: { lazy?: PackagedFunction; eager?: PackagedFunction } = {};
      for (const [k, codeCache] of [
        ['lazy', true],
        ['eager', 'eager'],
      ] as const) {
        const p = await packageFunctions({ env: { LOG_LEVEL: 'INFO' }, codeCache });
        pkgs.push(p);
        const fn = p.functions.get('greet');
        if (fn) cached[k] = { ...fn, name: `greet+${k === 'lazy' ? 'codecache' : 'eagercache'}` };
      }
      const { runs, load } = await greetAgainstFloor(greet, pkg.dir, cached);
      const side = (v: Variant) => {
        const rs = runs.get(v) ?? [];
        return rs.length
          ? {
              initMs: median(rs.map((r) => r.initMs)),
              firstInvokeMs: median(rs.map((r) => r.firstInvokeMs)),
              totalMs: median(rs.map((r) => r.totalMs)),
              peakRssMb: median(rs.map((r) => r.peakRssMb ?? NaN)),
            }
          : undefined;
      };
      const g = side('greet');
      const f = side('floor');
      if (!g || !f) throw new Error('no greet or floor runs');
      const gs = side('greet+shim');
      const fs = side('floor+shim');
      const ge = side('greet+esm');
      const fe = side('floor+esm');
      const gc = side('greet+codecache');
      const gl = side('greet+eagercache');
      const ratio = (x: number, y: number) => Math.round((x / y) * 100) / 100;
      const steps = stepMedians(runs.get('greet') ?? []);
      // The trace's first step runs from process start to the handler: node, the runtime client and the bundle's import
      // (measured apart in `load`; not subtracted here, as it ran in another process).
      const breakdown = steps.map((s) =>
        s.step === 'handler' ? { step: 'init: node, runtime client, import (process start to handler)', ms: s.ms } : s,
      );
      Object.assign(result, {
        greet: { initMs: g.initMs, firstInvokeMs: g.firstInvokeMs, totalMs: g.totalMs },
        floor: { initMs: f.initMs, firstInvokeMs: f.firstInvokeMs, totalMs: f.totalMs },
        ratio: ratio(g.totalMs, f.totalMs),
        ratios: {
          init: ratio(g.initMs, f.initMs),
          firstInvoke: ratio(g.firstInvokeMs, f.firstInvokeMs),
          import: ratio(load.greetImportMs, load.floorImportMs),
          require: ratio(load.greetRequireMs, load.floorRequireMs),
        },
        breakdown,
        load,
        peakRssMb: { greet: g.peakRssMb, floor: f.peakRssMb },
        ...(gs && fs
          ? {
              entryShim: {
                greet: gs,
                floor: fs,
                ratio: ratio(gs.totalMs, fs.totalMs),
                greetShimOverFloor: ratio(gs.totalMs, f.totalMs),
                initSavedMs: Math.round((g.initMs - gs.initMs) * 10) / 10,
              },
            }
          : {}),
        ...(ge && fe
          ? {
              esmBuild: {
                greet: ge,
                floor: fe,
                ratio: ratio(ge.totalMs, fe.totalMs),
                greetEsmOverFloor: ratio(ge.totalMs, f.totalMs),
                initSavedMs: Math.round((g.initMs - ge.initMs) * 10) / 10,
              },
            }
          : {}),
        // savedMs: what the cache takes off greet's init + first invocation as packaged by default.
        ...(gc
          ? {
              codeCache: {
                greet: gc,
                ratio: ratio(gc.totalMs, f.totalMs),
                importRatio: ratio(load.greetCodeCacheImportMs, load.floorImportMs),
                savedMs: Math.round((g.totalMs - gc.totalMs) * 10) / 10,
              },
            }
          : {}),
        ...(gl
          ? { eagerCodeCache: { greet: gl, ratio: ratio(gl.totalMs, f.totalMs), savedMs: Math.round((g.totalMs - gl.totalMs) * 10) / 10 } }
          : {}),
        runsPerVariant: N,
        traced: 'greet runs with COLD_START_TRACE=1; floor untraced',
      });
      console.log(`\nnode ${process.version}, ${N} interleaved cold starts per variant in aws-lambda-rie (medians, ms)\n`);
      console.log('                           greet    floor    ratio');
      for (const [label, k] of [
        ['init (INIT REPORT)', 'initMs'],
        ['first invocation', 'firstInvokeMs'],
        ['init + first invocation', 'totalMs'],
      ] as const)
        console.log(`${label.padEnd(24)} ${fmt(g[k])} ${fmt(f[k])} ${fmt(g[k] / f[k])}x`);
      console.log(
        `${'import() (fresh node)'.padEnd(24)} ${fmt(load.greetImportMs)} ${fmt(load.floorImportMs)} ${fmt(load.greetImportMs / load.floorImportMs)}x`,
      );
      console.log(
        `${'require (fresh node)'.padEnd(24)} ${fmt(load.greetRequireMs)} ${fmt(load.floorRequireMs)} ${fmt(load.greetRequireMs / load.floorRequireMs)}x`,
      );
      if (gs && fs) {
        console.log('\nboth loaded through a one-line CommonJS entry shim (bench/floor-lambda/entry-shim.ts)');
        for (const [label, k] of [
          ['init (INIT REPORT)', 'initMs'],
          ['init + first invocation', 'totalMs'],
        ] as const)
          console.log(`${label.padEnd(24)} ${fmt(gs[k])} ${fmt(fs[k])} ${fmt(gs[k] / fs[k])}x`);
        console.log(`greet+shim / floor as packaged: ${(gs.totalMs / f.totalMs).toFixed(2)}x`);
      }
      if (ge && fe) {
        console.log('\nboth built as ES modules (.mjs) with the same settings (bench/floor-lambda/package-floor.ts)');
        for (const [label, k] of [
          ['init (INIT REPORT)', 'initMs'],
          ['init + first invocation', 'totalMs'],
        ] as const)
          console.log(`${label.padEnd(24)} ${fmt(ge[k])} ${fmt(fe[k])} ${fmt(ge[k] / fe[k])}x`);
        console.log(`greet+esm / floor as packaged: ${(ge.totalMs / f.totalMs).toFixed(2)}x`);
      }
      if (gc) {
        console.log('\ngreet packaged with its V8 code cache (CODE_CACHE=1; used: this Node made it)');
        for (const [label, k] of [
          ['init (INIT REPORT)', 'initMs'],
          ['first invocation', 'firstInvokeMs'],
          ['init + first invocation', 'totalMs'],
        ] as const)
          console.log(`${label.padEnd(24)} ${fmt(gc[k])} ${fmt(f[k])} ${fmt(gc[k] / f[k])}x`);
        console.log(
          `${'import() (fresh node)'.padEnd(24)} ${fmt(load.greetCodeCacheImportMs)} ${fmt(load.floorImportMs)} ${fmt(load.greetCodeCacheImportMs / load.floorImportMs)}x`,
        );
      }
      if (gl) {
        console.log('greet packaged with the eager code cache (CODE_CACHE=eager: every function compiled)');
        for (const [label, k] of [
          ['init (INIT REPORT)', 'initMs'],
          ['first invocation', 'firstInvokeMs'],
          ['init + first invocation', 'totalMs'],
        ] as const)
          console.log(`${label.padEnd(24)} ${fmt(gl[k])} ${fmt(f[k])} ${fmt(gl[k] / f[k])}x`);
      }
      console.log('\ngreet cold-start breakdown (median per step, ms)');
      for (const s of breakdown) console.log(`  ${s.step.padEnd(60)} ${fmt(s.ms)}`);
    }
    if (SCENARIOS.has('election') || SCENARIOS.has('unreachable')) {
      const o = await outages(greet);
      const healthy = summary(o.healthy);
      Object.assign(result, { clusterHealthy: healthy });
      console.log(`\ncold starts on a 3-server cluster (${OUTAGE_N} each; bound ${OUTAGE_BOUND_MS} ms on the first invocation)`);
      console.log('scenario                 median total   max total  first inv.  statuses');
      const row = (label: string, s: ReturnType<typeof summary>, runs: ColdRun[]) => {
        console.log(
          `${label.padEnd(24)} ${fmt(s.medianTotalMs)}    ${fmt(s.maxTotalMs)}  ${fmt(s.medianFirstInvokeMs)}  ${s.statuses.join(',')}${s.bounded === false ? '  OVER BOUND' : ''}`,
        );
        const steps = stepMedians(runs).filter((x) => x.step !== 'handler');
        if (steps.length) console.log(`  steps: ${steps.map((x) => `${x.step} ${x.ms}`).join(', ')}`);
      };
      row('healthy', healthy, o.healthy);
      if (o.election.length) {
        const e = { ...summary(o.election, OUTAGE_BOUND_MS), medianElectionMs: median(o.election.map((r) => r.electionMs)) };
        result.election = e;
        row('leader election', e, o.election);
        console.log(`  (a new leader took ${e.medianElectionMs} ms median after the kill)`);
      }
      if (o.refused.length) {
        const refused = summary(o.refused, OUTAGE_BOUND_MS);
        const frozen = summary(o.frozen, OUTAGE_BOUND_MS);
        result.unreachable = { refused, frozen };
        row('unreachable: refused', refused, o.refused);
        row('unreachable: frozen', frozen, o.frozen);
      }
    }
    console.log(`\nwrote ${writeResult('cold-start', result)}`);
  } finally {
    removeAll();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
