/**
 * `npm run bench`: each benchmark in its own child process, one after another (they would
 * skew each other side by side on a small machine, and a fresh process keeps one's heap and
 * handles out of the next), then the report (latest.json, chart.svg, summary.md), all in the
 * ignored bench/out/. `npm run bench -- --publish` then publishes the sections this run
 * measured (bench/publish.ts: into bench/results/ and docs/results/); a failed one is not.
 * BENCH_ONLY=warm,bundle picks a subset; a benchmark whose file does not exist yet is
 * skipped with a message. Exits non-zero when a benchmark failed, after the report.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The benchmarks in the order they run, by section name. */
export const BENCHMARKS: ReadonlyArray<{ name: string; file: string }> = [
  { name: 'warm', file: 'greet.bench.ts' },
  { name: 'cold-start', file: 'cold-start/cold-start.bench.ts' },
  { name: 'bundle', file: 'bundle.bench.ts' },
  { name: 'fleet', file: 'fleet/fleet.bench.ts' },
  { name: 'metrics', file: 'metrics.bench.ts' },
  { name: 'tracing', file: 'tracing.bench.ts' },
];

/** Longest one benchmark may run before it is stopped (BENCH_TIMEOUT_MIN, default 30). */
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MIN ?? 30) * 60_000;

/** The benchmarks `only` (BENCH_ONLY, comma list) selects; every one when empty. Throws on an unknown name. */
export function selectBenchmarks(only: string | undefined): Array<{ name: string; file: string }> {
  const wanted = (only ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = wanted.filter((w) => !BENCHMARKS.some((b) => b.name === w));
  if (unknown.length)
    throw new Error(`BENCH_ONLY names unknown benchmark(s) ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
  return BENCHMARKS.filter((b) => !wanted.length || wanted.includes(b.name));
}

let running: number | undefined;

/** Runs `node --import tsx <file> <args>` with inherited output; resolves to its exit code (a timeout kills its process group). */
function runScript(file: string, args: string[] = []): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { stdio: 'inherit', detached: true });
    running = child.pid;
    const timer = setTimeout(() => {
      console.error(`\n${file}: still running after ${TIMEOUT_MS / 60_000} min; stopping it`);
      // detached: the benchmark leads its own process group, so its Consul and Greeters go too.
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    }, TIMEOUT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      running = undefined;
      resolve(code ?? (signal ? 1 : 0));
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      console.error(`${file}: ${err.message}`);
      resolve(1);
    });
  });
}

/** The selected benchmarks with their paths, and whether each file is missing (`exists` decides). */
export function planRuns(
  only: string | undefined,
  exists: (path: string) => boolean,
  dir = __dirname,
): Array<{ name: string; file: string; path: string; missing: boolean }> {
  return selectBenchmarks(only).map((b) => {
    const path = join(dir, b.file);
    return { ...b, path, missing: !exists(path) };
  });
}

async function main(): Promise<number> {
  // The child leads its own process group (see runScript), so Ctrl-C no longer reaches it by itself: pass it on.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      if (running) process.kill(-running, 'SIGTERM');
      process.exit(130);
    });
  }
  const outcome: string[] = [];
  const measured: string[] = [];
  const startedAt = new Date();
  let failed = 0;
  for (const b of planRuns(process.env.BENCH_ONLY, existsSync)) {
    const file = b.path;
    if (b.missing) {
      console.log(`\n== ${b.name}: skipped, bench/${b.file} does not exist yet`);
      outcome.push(`${b.name}: skipped (no bench/${b.file})`);
      continue;
    }
    console.log(`\n== ${b.name} (bench/${b.file})`);
    const started = Date.now();
    const code = await runScript(file);
    const took = `${((Date.now() - started) / 1000).toFixed(0)} s`;
    if (code !== 0) failed++;
    else measured.push(b.name);
    outcome.push(`${b.name}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} in ${took}`);
  }
  console.log('\n== report');
  const reportCode = await runScript(join(__dirname, 'report.ts'));
  let publishCode = 0;
  if (process.argv.includes('--publish')) {
    console.log(`\n== publish ${measured.join(', ') || '(nothing measured)'}`);
    publishCode = await runScript(join(__dirname, 'publish.ts'), [...measured, '--since', startedAt.toISOString()]);
    outcome.push(`publish: ${publishCode === 0 ? 'ok' : `FAILED (exit ${publishCode})`}`);
  }
  console.log(`\n${outcome.join('\n')}\nreport: ${reportCode === 0 ? 'ok' : `FAILED (exit ${reportCode})`}`);
  return failed || reportCode || publishCode ? 1 : 0;
}

// Only as a script: the unit test imports selectBenchmarks.
if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
