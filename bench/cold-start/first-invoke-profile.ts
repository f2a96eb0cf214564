/**
 * `npm run bench:cold -- --profile`: where a cold start's first invocation spends its CPU. greet is bundled
 * as `serverless package` bundles it (the packaged esbuild settings and plugins, without the V8 code cache) plus a
 * source map, and each run is a fresh `node --cpu-prof` (the functions' Lambda runtime Node, with the flags Lambda
 * starts it with) that imports the bundle and invokes the handler once against a dev agent with ACLs and two
 * Greeters; the floor Lambda (bench/floor-lambda/) the same way, interleaved. The samples between the invocation's start and end are summed per
 * function and per module of the original source (the map), self and total. Fresh runs without the
 * profiler give the timing (import, first invocation, the function's own trace) that the profile explains.
 * Env: BENCH_PROFILE_N (profiled runs, default 5), BENCH_PROFILE_TIMED_N (unprofiled runs, default 10),
 * BENCH_PROFILE_INTERVAL_US (sampling interval, default 50), BENCH_PROFILE_TOP (rows, default 30), BENCH_PROFILE_JSON
 * (a file to write every sum to, µs over all runs),
 * BENCH_PROFILE_ENV (JSON: variables set on greet on top of its own, for an experiment), BENCH_PROFILE_KV (JSON:
 * config keys written over the seeded defaults, for an experiment), BENCH_PROFILE_GREETERS (Greeters registered, default 2).
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { bundlePath, packageFunctions, type PackagedFunction } from '../../scripts/rie/package-functions';
import { ensureRuntimeNode } from '../../scripts/rie/runtime-node';
import { startFunctionStack } from '../../scripts/stack/function-stack';
import { seedDefaultConfig } from '../../scripts/stack/seed-config';
import { httpEvent } from '../../scripts/support/lambda-events';
import { packagedEsbuildOptions } from '../floor-lambda/package-floor';
import { median } from '../measure';
import { PREFIX } from './against-floor';
import { traceOf } from './cold-run';

const ROOT = join(__dirname, '..', '..');
const execFileAsync = promisify(execFile);
// eslint-disable-next-line @typescript-eslint/no-require-imports -- shared with the esbuild plugins, which are CommonJS
const { lambdaNodeArgs } = require('../../scripts/esbuild/lambda-node.cjs') as { lambdaNodeArgs: (memoryMb: number) => string[] };
/** The Node the children run on and its flags: the functions' Lambda runtime, started as Lambda starts it (set in the run). */
const RUNTIME = { node: process.execPath, args: [] as string[] };
const N = Number(process.env.BENCH_PROFILE_N ?? 5);
const TIMED_N = Number(process.env.BENCH_PROFILE_TIMED_N ?? 10);
const INTERVAL_US = Number(process.env.BENCH_PROFILE_INTERVAL_US ?? 50);
const TOP = Number(process.env.BENCH_PROFILE_TOP ?? 30);
const STEP_TOP = Math.ceil(TOP / 2);

interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The boundaries the child prints, in µs of the monotonic clock V8's profiler stamps samples with. */
interface Marks {
  importStart: number;
  importEnd: number;
  invokeStart: number;
  invokeEnd: number;
  /** The profile clock (µs) at performance.now() 0. */
  clockOffsetUs: number;
  /** Node's internal modules and bindings first loaded during the invocation (process.moduleLoadList). */
  builtinsLoaded: string[];
  status: number;
  logs: string[];
}

/** The child: imports the bundle, then invokes the handler once, printing the clock around each (µs). */
function childScript(bundle: string): string {
  const event = JSON.stringify(httpEvent('GET', { name: 'profile' }));
  return `
const us = () => Number(process.hrtime.bigint() / 1000n);
const logs = [];
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => (logs.push(String(chunk)), true);
const importStart = us();
const mod = await import(${JSON.stringify(pathToFileURL(bundle).href)});
const importEnd = us();
const end = Date.now() + 10000;
const context = { callbackWaitsForEmptyEventLoop: false, functionName: 'greet', functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:greet', memoryLimitInMB: '128',
  awsRequestId: 'req-profile', logGroupName: '/aws/lambda/greet', logStreamName: 'profile',
  getRemainingTimeInMillis: () => Math.max(0, end - Date.now()) };
// The trace's marks are performance.now(); this maps them onto the profile's clock.
const clockOffsetUs = us() - performance.now() * 1000;
const loadedBefore = new Set(process.moduleLoadList);
const invokeStart = us();
const res = await mod.handler(${event}, context);
const invokeEnd = us();
const builtinsLoaded = process.moduleLoadList.filter((m) => !loadedBefore.has(m));
write(JSON.stringify({ importStart, importEnd, invokeStart, invokeEnd, clockOffsetUs, builtinsLoaded, status: res.statusCode, logs: logs.join('').split('\\n') }) + '\\n');
process.exit(0);
`;
}

/** Builds `entry` with the package's esbuild settings and plugins, with an external source map beside it. */
async function buildWithMap(packageDir: string, entry: string, dir: string, name: string): Promise<{ bundle: string; map: SourceMap }> {
  const { options } = packagedEsbuildOptions(packageDir);
  // The plugins file is CommonJS, as serverless-esbuild loads it; called without the framework it gives the bundle
  // plugins alone (no code cache: the profile explains the code, and lazily compiled code is what the first invocation meets).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const plugins = (require(join(ROOT, 'scripts', 'esbuild', 'plugins.cjs')) as () => NonNullable<Parameters<typeof build>[0]['plugins']>)();
  const bundle = join(dir, 'functions', `${name}${options.format === 'esm' ? '.mjs' : '.js'}`);
  await build({ ...options, plugins, bundle: true, entryPoints: [entry], outfile: bundle, sourcemap: 'external', logLevel: 'error' });
  return { bundle, map: new SourceMap(JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as SourceMapPayload) };
}

/** Warns when the bundle built here is not the packaged one (the profile would then explain other code). */
function checkSameAsPackaged(bundle: string, fn: PackagedFunction, dir: string): void {
  const packaged = join(dir, 'packaged');
  spawnSync('python3', ['-m', 'zipfile', '-e', fn.zip, packaged], { stdio: 'ignore' });
  const ours = readFileSync(bundle, 'utf8').replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n');
  const theirs = readFileSync(bundlePath(fn, packaged), 'utf8');
  if (ours.trimEnd() !== theirs.trimEnd())
    console.warn('note: the profiled bundle differs from the packaged one (other plugins or settings)');
}

/** A function profiled: its bundle and map, the child that runs it, its environment, and what the runs gave. */
interface Profiled {
  name: string;
  bundleUrl: string;
  map: SourceMap;
  script: string;
  env: Record<string, string>;
  timed: Array<{ importMs: number; invokeMs: number; steps: Map<string, number> }>;
  builtinsLoaded?: string[];
  totals: Totals;
  perStep: Map<string, Totals>;
  sampledUs: number;
}

/**
 * Runs the child once (profiled into `profDir` when given); its marks and the profile it wrote. Asynchronous, so
 * this process keeps reading what Consul and the Greeters it started write meanwhile (a full pipe would stall them).
 */
async function runChild(script: string, env: Record<string, string>, profDir?: string): Promise<{ marks: Marks; profile?: CpuProfile }> {
  const args = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-interval=${INTERVAL_US}`] : [];
  const r = await execFileAsync(RUNTIME.node, [...RUNTIME.args, ...args, '--input-type=module', '-e', script], {
    env,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 << 20,
  }).catch((err: { code?: unknown; stderr?: string }) => {
    throw new Error(`profile child failed (${String(err.code)}): ${err.stderr ?? ''}`);
  });
  const marks = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Marks;
  if (marks.status !== 200) throw new Error(`the handler answered ${marks.status}: ${marks.logs.join('\n').slice(-2000)}`);
  if (!profDir) return { marks };
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no .cpuprofile written');
  const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile;
  rmSync(join(profDir, file));
  return { marks, profile };
}

/** Where a call frame's code came from: a source of the bundle (via the map), a Node built-in, or V8's own entries. */
function frameSource(frame: CpuProfile['nodes'][number]['callFrame'], bundleUrl: string, map: SourceMap): { fn: string; module: string } {
  const { url, lineNumber, columnNumber } = frame;
  let fn = frame.functionName || '(anonymous)';
  if (url === bundleUrl) {
    const e = map.findEntry(lineNumber, columnNumber) as { originalSource?: string; originalLine?: number; name?: string };
    const original = e.originalSource ?? '?';
    const src = original.includes('node_modules/')
      ? original.replace(/^.*?node_modules\//, 'node_modules/')
      : original.replace(/^.*?\/(lib|functions|proto)\//, '$1/');
    if (e.name) fn = e.name;
    return { fn: `${fn} (${src}:${(e.originalLine ?? 0) + 1})`, module: src };
  }
  if (!url) return { fn, module: fn.startsWith('(') ? fn : '(native)' };
  const mod = url.startsWith('node:') ? url : url.replace(/^.*?node_modules\//, 'node_modules/');
  return { fn: `${fn} (${mod}:${lineNumber + 1})`, module: mod };
}

/** The package, project folder or Node built-in area a module belongs to. */
function groupOf(module: string): string {
  const pkg = /^node_modules\/((@[^/]+\/)?[^/]+)/.exec(module);
  if (pkg) return pkg[1]!;
  const folder = /^(lib\/[^/]+|functions|proto)\//.exec(module);
  if (folder) return folder[1]!;
  if (/^node:(_http|http|https)/.test(module)) return 'node: http';
  if (/^node:(internal\/)?(net|dns|stream_base_commons|tcp)/.test(module)) return 'node: net';
  if (/^node:(internal\/)?http2/.test(module)) return 'node: http2';
  if (/^node:internal\/(streams|webstreams)/.test(module)) return 'node: streams';
  if (module.startsWith('node:')) return 'node: other';
  return module;
}

/** Self and total µs per function and self µs per module, over the samples within [from, to). */
function aggregate(p: CpuProfile, from: number, to: number, bundleUrl: string, map: SourceMap, into: Totals): number {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const source = new Map<number, { fn: string; module: string }>();
  const src = (id: number) => {
    let s = source.get(id);
    if (!s) source.set(id, (s = frameSource(byId.get(id)!.callFrame, bundleUrl, map)));
    return s;
  };
  let t = p.startTime;
  let sum = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    // A sample stands for the time until the next one.
    const dt = p.timeDeltas[i + 1] ?? 0;
    if (t < from || t >= to) continue;
    sum += dt;
    const leaf = src(p.samples[i]!);
    into.self.set(leaf.fn, (into.self.get(leaf.fn) ?? 0) + dt);
    into.module.set(leaf.module, (into.module.get(leaf.module) ?? 0) + dt);
    const group = groupOf(leaf.module);
    into.group.set(group, (into.group.get(group) ?? 0) + dt);
    const seenFn = new Set<string>();
    const seenMod = new Set<string>();
    for (let id: number | undefined = p.samples[i]; id !== undefined; id = parent.get(id)) {
      const s = src(id);
      if (!seenFn.has(s.fn)) into.total.set(s.fn, (into.total.get(s.fn) ?? 0) + dt);
      if (!seenMod.has(s.module)) into.moduleTotal.set(s.module, (into.moduleTotal.get(s.module) ?? 0) + dt);
      seenFn.add(s.fn);
      seenMod.add(s.module);
    }
  }
  return sum;
}

interface Totals {
  /** Self µs per package (node_modules), project folder (lib/x), Node built-in group or V8 entry. */
  group: Map<string, number>;
  self: Map<string, number>;
  total: Map<string, number>;
  module: Map<string, number>;
  moduleTotal: Map<string, number>;
}

function newTotals(): Totals {
  return { group: new Map(), self: new Map(), total: new Map(), module: new Map(), moduleTotal: new Map() };
}

function printTop(title: string, m: Map<string, number>, runs: number, top = TOP): void {
  console.log(`\n${title} (ms per run, mean of ${runs})`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(us / 1000 / runs).toFixed(2).padStart(8)}  ${k}`);
}

/** Prints each function's timing, greet's profile beside the floor's, and greet's profile per step of its trace. */
function report(fns: Profiled[]): void {
  const fmt = (xs: number[]) => `${median(xs)} ms (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
  for (const fn of fns) {
    console.log(`\n${fn.name}, unprofiled, ${TIMED_N} fresh node processes:`);
    console.log(`  import of the bundle: ${fmt(fn.timed.map((t) => t.importMs))}`);
    console.log(`  first invocation:     ${fmt(fn.timed.map((t) => t.invokeMs))}`);
    for (const step of fn.timed[0]?.steps.keys() ?? [])
      console.log(`  step ${step.padEnd(16)} ${fmt(fn.timed.map((t) => t.steps.get(step) ?? 0))}`);
    console.log(`  Node built-ins first loaded by the invocation: ${fn.builtinsLoaded?.join(', ') || 'none'}`);
    if (N)
      console.log(`  profiled first invocation: ${(fn.sampledUs / 1000 / N).toFixed(1)} ms sampled per run (interval ${INTERVAL_US} µs)`);
  }
  const [greet, floor] = fns;
  if (!greet || !floor) return;
  const invoke = (fn: Profiled) => median(fn.timed.map((t) => t.invokeMs)) ?? 0;
  console.log(`\nfirst invocation, greet / floor (medians, fresh node): ${(invoke(greet) / invoke(floor)).toFixed(2)}x`);
  if (!N) return;
  console.log(`\nfirst invocation, self time by package, project folder or Node area (ms per run, mean of ${N}): greet, floor, difference`);
  const keys = new Set([...greet.totals.group.keys(), ...floor.totals.group.keys()]);
  const ms = (m: Map<string, number>, k: string) => (m.get(k) ?? 0) / 1000 / N;
  for (const k of [...keys].sort(
    (a, b) => ms(greet.totals.group, b) - ms(floor.totals.group, b) - (ms(greet.totals.group, a) - ms(floor.totals.group, a)),
  ))
    console.log(
      `${ms(greet.totals.group, k).toFixed(2).padStart(8)} ${ms(floor.totals.group, k).toFixed(2).padStart(8)} ${(ms(greet.totals.group, k) - ms(floor.totals.group, k)).toFixed(2).padStart(8)}  ${k}`,
    );
  printTop('greet: self time by module', greet.totals.module, N);
  printTop('floor: self time by module', floor.totals.module, N, STEP_TOP);
  printTop('greet: self time by function', greet.totals.self, N);
  printTop('floor: self time by function', floor.totals.self, N, STEP_TOP);
  printTop('greet: total time by function', greet.totals.total, N);
  console.log(`\ngreet, per step of its trace: CPU sampled, waiting on I/O (idle), garbage collection (ms per run, mean of ${N})`);
  for (const [step, t] of greet.perStep) {
    const all = [...t.group.values()].reduce((a, b) => a + b, 0);
    const idle = t.group.get('(idle)') ?? 0;
    const gc = t.group.get('(garbage collector)') ?? 0;
    console.log(
      `  ${step.padEnd(12)} ${((all - idle) / 1000 / N).toFixed(2).padStart(7)} ${(idle / 1000 / N).toFixed(2).padStart(7)} ${(gc / 1000 / N).toFixed(2).padStart(7)}`,
    );
  }
  for (const [step, t] of greet.perStep) {
    printTop(`greet step ${step}: self time by package, folder or Node area`, t.group, N, STEP_TOP);
    printTop(`greet step ${step}: total time by function`, t.total, N, STEP_TOP);
  }
}

/** Packages greet, starts the stack, runs the timed and the profiled children and prints the figures. */
export async function firstInvokeProfile(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'consul-grpc-lambda-profile-'));
  const pkg = await packageFunctions({ env: { LOG_LEVEL: 'INFO' }, codeCache: false });
  const stack = await startFunctionStack(PREFIX);
  try {
    const greet = pkg.functions.get('greet');
    if (!greet) throw new Error('no greet function in the package');
    await seedDefaultConfig(stack.admin, PREFIX);
    // An experiment's config on top of the defaults (e.g. maxAttempts 1: no hedging), as JSON.
    if (process.env.BENCH_PROFILE_KV) await stack.setConfig(JSON.parse(process.env.BENCH_PROFILE_KV) as Record<string, string>);
    const first = await stack.addGreeter({ id: 'profile-1' });
    RUNTIME.node = ensureRuntimeNode((l) => console.error(l));
    RUNTIME.args = lambdaNodeArgs(greet.memorySize);
    // BENCH_PROFILE_GREETERS=1: one instance, so greet's round robin connects once, as the floor does.
    for (let i = 2; i <= Number(process.env.BENCH_PROFILE_GREETERS ?? 2); i++) await stack.addGreeter({ id: `profile-${i}` });
    const base: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      TZ: ':UTC',
      AWS_REGION: greet.region,
      AWS_LAMBDA_FUNCTION_NAME: greet.functionName,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(greet.memorySize),
      AWS_LAMBDA_LOG_STREAM_NAME: 'profile',
      ...(greet.environment.NODE_OPTIONS ? { NODE_OPTIONS: greet.environment.NODE_OPTIONS } : {}),
    };
    const g = await buildWithMap(pkg.dir, join(ROOT, 'functions', 'greet.ts'), work, 'greet');
    checkSameAsPackaged(g.bundle, greet, work);
    const f = await buildWithMap(pkg.dir, join(ROOT, 'bench', 'floor-lambda', 'floor.ts'), work, 'floor');
    const profiled = (name: string, b: { bundle: string; map: SourceMap }, env: Record<string, string>): Profiled => ({
      name,
      bundleUrl: pathToFileURL(b.bundle).href,
      map: b.map,
      script: childScript(b.bundle),
      env: { ...base, ...env },
      timed: [],
      totals: newTotals(),
      perStep: new Map(),
      sampledUs: 0,
    });
    const fns = [
      profiled('greet', g, {
        ...greet.environment,
        CONSUL_HTTP_ADDR: stack.consul.address,
        CONSUL_HTTP_TOKEN: stack.gatewayToken,
        COLD_START_TRACE: '1',
        // An experiment's settings on top (e.g. another log level), as JSON.
        ...(JSON.parse(process.env.BENCH_PROFILE_ENV ?? '{}') as Record<string, string>),
      }),
      profiled('floor', f, { FLOOR_GREETER_ADDR: `127.0.0.1:${first.port}` }),
    ];
    // One discarded run each warms the disk cache and the agent; then the runs alternate.
    for (const fn of fns) await runChild(fn.script, fn.env);
    for (let i = 0; i < TIMED_N; i++)
      for (const fn of i % 2 ? [...fns].reverse() : fns) {
        const { marks } = await runChild(fn.script, fn.env);
        fn.builtinsLoaded ??= marks.builtinsLoaded;
        const steps = new Map((traceOf(marks.logs)?.steps ?? []).map((s) => [s.step, s.ms]));
        fn.timed.push({
          importMs: (marks.importEnd - marks.importStart) / 1000,
          invokeMs: (marks.invokeEnd - marks.invokeStart) / 1000,
          steps,
        });
      }
    const profDir = join(work, 'prof');
    for (let i = 0; i < N; i++)
      for (const fn of fns) {
        const { marks, profile } = await runChild(fn.script, fn.env, profDir);
        if (!profile) continue;
        if (marks.invokeStart < profile.startTime || marks.invokeEnd > profile.endTime)
          throw new Error('the marks are not on the profile clock');
        fn.sampledUs += aggregate(profile, marks.invokeStart, marks.invokeEnd, fn.bundleUrl, fn.map, fn.totals);
        // Each step of the function's own trace that ended within the invocation, from the step before it.
        let from = marks.invokeStart;
        for (const step of traceOf(marks.logs)?.steps ?? []) {
          const to = marks.clockOffsetUs + step.atMs * 1000;
          if (to <= marks.invokeStart) continue;
          let t = fn.perStep.get(step.step);
          if (!t) fn.perStep.set(step.step, (t = newTotals()));
          aggregate(profile, from, to, fn.bundleUrl, fn.map, t);
          from = to;
        }
      }
    report(fns);
    if (process.env.BENCH_PROFILE_JSON) {
      const plain = (t: Totals) => Object.fromEntries(Object.entries(t).map(([k, m]) => [k, Object.fromEntries(m as Map<string, number>)]));
      const out = fns.map((fn) => ({
        name: fn.name,
        runs: N,
        totals: plain(fn.totals),
        perStep: Object.fromEntries([...fn.perStep].map(([k, t]) => [k, plain(t)])),
      }));
      writeFileSync(process.env.BENCH_PROFILE_JSON, JSON.stringify(out));
    }
  } finally {
    await stack.stop();
    pkg.remove();
    rmSync(work, { recursive: true, force: true });
  }
}
