/**
 * What every benchmark here shares: timing a step, summarising samples (the project's one
 * percentile definition, scripts/support/percentiles.ts: nearest rank), ratios that are never
 * NaN, and running a benchmark's main. Benchmarks time through these, never by hand.
 */
import { performance } from 'node:perf_hooks';
import { summarize, type Summary } from '../scripts/support/percentiles';
import { onTermination, sweepStale } from '../scripts/stack/lifecycle';
import { stopAll } from '../scripts/stack/processes';
import { publish } from './publish';
import { written } from './results';

/** The nearest-rank summary of `samples` (ms); throws naming `what` when there are none, so an empty measurement fails its run. */
export function stats(samples: readonly number[], what = 'samples'): Summary {
  const s = summarize(samples);
  if (!s) throw new Error(`no ${what} were measured`);
  return s;
}

/** The nearest-rank median (p50) of `samples`, rounded to `digits`; undefined when there are none. */
export function median(samples: readonly number[], digits = 1): number | undefined {
  const s = summarize(samples);
  return s && round(s.p50, digits);
}

/** How long `fn` takes, in ms. */
export async function time(fn: () => Promise<unknown>): Promise<number> {
  return (await timed(fn)).ms;
}

/** What `fn` resolves to, and how long it took in ms. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

/** How long the synchronous `fn` takes, in ms. */
export function timeSync(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

/** A clock started now: `elapsed()` is the ms since, for a wait that ends elsewhere (a leader elected, a change seen). */
export function stopwatch(): { elapsed(): number } {
  const t0 = performance.now();
  return { elapsed: () => performance.now() - t0 };
}

/** Runs `total` calls of `fn` with `inFlight` of them outstanding at any time; returns calls per second. */
export async function throughput(fn: () => Promise<unknown>, total: number, inFlight: number): Promise<number> {
  let started = 0;
  const worker = async () => {
    while (started < total) {
      started++;
      await fn();
    }
  };
  const { ms } = await timed(() => Promise.all(Array.from({ length: inFlight }, worker)));
  return (total / ms) * 1000;
}

/**
 * Throughput of each of `paths` with `inFlight` calls outstanding: `rounds` rounds of `total` calls per
 * path, the paths in an order shuffled (seeded) each round, so that none always runs after the same one
 * (inheriting its garbage) or in the same moment of the machine. Gives each path's calls per second in
 * every round, in round order.
 */
export async function throughputRounds<K extends string>(
  paths: Record<K, () => Promise<unknown>>,
  o: { total: number; inFlight: number; rounds: number },
): Promise<Record<K, number[]>> {
  const order = Object.entries(paths) as Array<[K, () => Promise<unknown>]>;
  const out = Object.fromEntries(order.map(([name]) => [name, []])) as unknown as Record<K, number[]>;
  const random = seededRandom(order.length + 1);
  for (let r = 0; r < o.rounds; r++)
    for (const [name, fn] of shuffled(order, random)) out[name].push(await throughput(fn, o.total, o.inFlight));
  return out;
}

/** One path of an interleaved measurement: a call (`i`: its index in the block) and, if not the default, its calls per turn. */
export interface InterleavedPath {
  run: (i: number) => Promise<unknown>;
  block?: number;
}

/** What an interleaved measurement gives a path: its latencies (ms) and this process's CPU per call in each turn (µs). */
export interface PathSamples {
  samples: number[];
  cpuUs: number[];
}

/**
 * Warm latencies of `paths` measured alike: `warmUp` calls of each first, then turns of one block per
 * path until a default block (`block` calls) has given `n` samples. Small blocks, and an order shuffled
 * each turn (so no path keeps following the same one and paying for its garbage: rotating the order
 * would keep the neighbours of three or more paths), make drift, garbage collection and bursts of load
 * from elsewhere on a shared machine fall on every path alike. The shuffle is seeded: a run's order is
 * the same each time.
 */
export async function interleaved<K extends string>(
  paths: Record<K, InterleavedPath>,
  n: number,
  block: number,
  warmUp = 300,
): Promise<Record<K, PathSamples>> {
  const order = Object.entries(paths) as Array<[K, InterleavedPath]>;
  const out = Object.fromEntries(order.map(([name]) => [name, { samples: [], cpuUs: [] }])) as unknown as Record<K, PathSamples>;
  for (const [, p] of order) for (let i = 0; i < warmUp; i++) await p.run(i);
  const random = seededRandom(order.length);
  for (let turn = 0; turn * block < n; turn++)
    for (const [name, p] of shuffled(order, random)) {
      const size = p.block ?? block;
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < size; i++) out[name].samples.push(await time(() => p.run(i)));
      const cpu = process.cpuUsage(cpu0);
      out[name].cpuUs.push((cpu.user + cpu.system) / size);
    }
  return out;
}

/** A small deterministic generator of numbers in [0, 1) (an LCG; plenty for ordering turns). */
function seededRandom(seed: number): () => number {
  let state = (seed * 2654435761) % 2 ** 32;
  return () => {
    state = (state * 1664525 + 1013904223) % 2 ** 32;
    return state / 2 ** 32;
  };
}

/** A copy of `items` in an order drawn from `random` (Fisher–Yates). */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Rounds to `digits` decimals, for figures written to results files. */
export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** `a / b` rounded to `digits`; undefined when either is missing or the quotient is not a finite number. */
export function ratio(a: number | undefined, b: number | undefined, digits = 2): number | undefined {
  if (a === undefined || b === undefined || b === 0) return undefined;
  const q = a / b;
  return Number.isFinite(q) ? round(q, digits) : undefined;
}

/**
 * Runs a benchmark's `main`: exit 0 when it resolves; print the error's message and exit 1 when it rejects.
 * With `--publish` on the command line, the sections it wrote are then published (bench/publish.ts).
 * Ctrl-C, SIGTERM or the parent gone stops every process the benchmark started, then runs `cleanup`.
 */
export function runMain(main: () => Promise<void>, cleanup?: () => void): void {
  // What a killed run left (temp dirs, orphans whose owner is gone) goes first.
  sweepStale();
  onTermination(() => {
    void stopAll(2_000).finally(() => {
      cleanup?.();
      process.exit(130);
    });
  });
  main()
    .then(() => (process.argv.includes('--publish') ? publish([...written]) : undefined))
    .then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err instanceof Error ? err.message : err);
        process.exit(1);
      },
    );
}
