/**
 * What the cold-start rounds mean: the figures for bench/out/cold-start.json (medians, ratios, the
 * step breakdown, each variant beside the floor) and the tables printed to the console. A figure
 * that was not measured is left out with its reason, never written or printed as NaN.
 */
import { execFileSync } from 'node:child_process';
import { ensureRuntimeNode } from '../../scripts/rie/runtime-node';
import { ratio, round } from '../measure';
import type { LoadMedians, Variant } from './against-floor';
import { stepMedians, variantMedians, type ColdRun } from './cold-run';

type Medians = NonNullable<ReturnType<typeof variantMedians>>;

const fmt = (x: number) => x.toFixed(1).padStart(8);
const fmtRatio = (a: number, b: number) => `${(ratio(a, b) ?? 0).toFixed(2).padStart(8)}x`;

/** Prints `label`, `a`, `b` and a / b for each row (a and b always measured). */
function printRows(rows: Array<[string, number, number]>): void {
  for (const [label, a, b] of rows) console.log(`${label.padEnd(24)} ${fmt(a)} ${fmt(b)} ${fmtRatio(a, b)}`);
}

const phases = (m: Medians, f: Medians, withFirst = true): Array<[string, number, number]> => [
  ['init (INIT REPORT)', m.initMs, f.initMs],
  ...(withFirst ? [['first invocation', m.firstInvokeMs, f.firstInvokeMs] as [string, number, number]] : []),
  ['init + first invocation', m.totalMs, f.totalMs],
];

/** A variant beside its floor: both sides, their ratio, and against the floor as packaged. */
function beside(v: Medians, floorV: Medians, floor: Medians, g: Medians, key: string) {
  return {
    greet: v,
    floor: floorV,
    ratio: ratio(v.totalMs, floorV.totalMs),
    [key]: ratio(v.totalMs, floor.totalMs),
    initSavedMs: round(g.initMs - v.initMs, 1),
  };
}

/** The version of the Node the emulator runs the functions on. */
function runtimeNodeVersion(): string {
  return execFileSync(ensureRuntimeNode(), ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim();
}

/** The results of greet against the floor (section fields) and the console tables; throws when greet or the floor has no runs. */
export function floorFigures(runs: Map<Variant, ColdRun[]>, load: LoadMedians, rounds: number): Record<string, unknown> {
  const side = (v: Variant) => variantMedians(runs.get(v) ?? []);
  const g = side('greet');
  const f = side('floor');
  if (!g || !f) throw new Error('no greet or floor runs');
  // The headline is the default package: its figures mean something only if V8 took the cache every time.
  const refused = (runs.get('greet') ?? []).filter((r) => r.codeCache !== 'used');
  if (refused.length)
    throw new Error(`greet's code cache was not used in ${refused.length} runs: ${refused.map((r) => r.codeCache ?? 'none').join(', ')}`);
  const [gs, fs, ge, fe, gc, gl] = (['greet+shim', 'floor+shim', 'greet+esm', 'floor+esm', 'greet+plain', 'greet+eagercache'] as const).map(
    side,
  );
  // The trace's first step runs from process start to the handler: node, the runtime client and the bundle's import
  // (measured apart in `load`; not subtracted here, as it ran in another process).
  const breakdown = stepMedians(runs.get('greet') ?? []).map((s) =>
    s.step === 'handler' ? { step: 'init: node, runtime client, import (process start to handler)', ms: s.ms } : s,
  );
  const result = {
    greet: { initMs: g.initMs, firstInvokeMs: g.firstInvokeMs, totalMs: g.totalMs },
    floor: { initMs: f.initMs, firstInvokeMs: f.firstInvokeMs, totalMs: f.totalMs },
    ratio: ratio(g.totalMs, f.totalMs),
    ratios: {
      init: ratio(g.initMs, f.initMs),
      firstInvoke: ratio(g.firstInvokeMs, f.firstInvokeMs),
      import: ratio(load.greetImportMs, load.floorImportMs),
      ...(load.greetRequireMs !== undefined ? { require: ratio(load.greetRequireMs, load.floorRequireMs) } : {}),
    },
    breakdown,
    load,
    peakRssMb: { greet: g.peakRssMb, floor: f.peakRssMb },
    ...(gs && fs ? { entryShim: beside(gs, fs, f, g, 'greetShimOverFloor') } : {}),
    ...(ge && fe ? { esmBuild: beside(ge, fe, f, g, 'greetEsmOverFloor') } : {}),
    // codeCacheSavesMs: what the default package's lazy cache takes off greet's init + first invocation.
    ...(gc
      ? {
          plainBundle: {
            greet: gc,
            ratio: ratio(gc.totalMs, f.totalMs),
            importRatio: ratio(load.greetPlainImportMs, load.floorImportMs),
            codeCacheSavesMs: round(gc.totalMs - g.totalMs, 1),
          },
        }
      : {}),
    // savedMs: what the eager cache takes off greet's init + first invocation against the default (lazy) one.
    ...(gl ? { eagerCodeCache: { greet: gl, ratio: ratio(gl.totalMs, f.totalMs), savedMs: round(g.totalMs - gl.totalMs, 1) } } : {}),
    runsPerVariant: rounds,
    runtimeNode: runtimeNodeVersion(),
    traced: 'greet runs with COLD_START_TRACE=1; floor untraced',
  };
  console.log(
    `\nnode ${result.runtimeNode} (the functions' runtime), ${rounds} interleaved cold starts per variant in aws-lambda-rie (medians, ms)\n`,
  );
  console.log('                           greet    floor    ratio');
  printRows([...phases(g, f), ['import() (fresh node)', load.greetImportMs, load.floorImportMs]]);
  if (load.greetRequireMs !== undefined && load.floorRequireMs !== undefined)
    printRows([['require (fresh node)', load.greetRequireMs, load.floorRequireMs]]);
  else console.log(`${'require (fresh node)'.padEnd(24)} not measured: ${load.requireSkipped}`);
  if (gs && fs) {
    console.log('\nboth loaded through a one-line CommonJS entry shim (bench/floor-lambda/entry-shim.ts)');
    printRows(phases(gs, fs, false));
    console.log(`greet+shim / floor as packaged: ${fmtRatio(gs.totalMs, f.totalMs)}`);
  }
  if (ge && fe) {
    console.log('\nboth built as ES modules (.mjs) with the same settings (bench/floor-lambda/package-floor.ts)');
    printRows(phases(ge, fe, false));
    console.log(`greet+esm / floor as packaged: ${fmtRatio(ge.totalMs, f.totalMs)}`);
  }
  if (gc) {
    console.log('\ngreet packaged without its V8 code cache (CODE_CACHE=0: the plain ES module bundle)');
    printRows(phases(gc, f));
    if (load.greetPlainImportMs !== undefined) printRows([['import() (fresh node)', load.greetPlainImportMs, load.floorImportMs]]);
  }
  if (gl) {
    console.log('greet packaged with the eager code cache (CODE_CACHE=eager: every function compiled)');
    printRows(phases(gl, f));
  }
  console.log('\ngreet cold-start breakdown (median per step, ms)');
  for (const s of breakdown) console.log(`  ${s.step.padEnd(60)} ${fmt(s.ms)}`);
  return result;
}

/** Median and max of a scenario's runs, the statuses answered, and whether every run stayed under the bound. */
export function scenarioSummary(runs: ColdRun[], bound?: number) {
  const medians = variantMedians(runs);
  if (!medians) throw new Error('no cold starts were measured');
  return {
    n: runs.length,
    medianTotalMs: medians.totalMs,
    maxTotalMs: round(Math.max(...runs.map((r) => r.totalMs)), 1),
    medianInitMs: medians.initMs,
    medianFirstInvokeMs: medians.firstInvokeMs,
    statuses: runs.map((r) => (r.error ? `${r.status} ${r.error}` : String(r.status))),
    ...(bound ? { boundMs: bound, bounded: runs.every((r) => r.firstInvokeMs < bound) } : {}),
    runs: runs.map(({ steps, ...r }) => ({ ...r, ...(steps ? { steps } : {}) })),
  };
}

/** Prints one outage scenario's row and its step medians. */
export function printScenario(label: string, s: ReturnType<typeof scenarioSummary>, runs: ColdRun[]): void {
  console.log(
    `${label.padEnd(24)} ${fmt(s.medianTotalMs)}    ${fmt(s.maxTotalMs)}  ${fmt(s.medianFirstInvokeMs)}  ${s.statuses.join(',')}${s.bounded === false ? '  OVER BOUND' : ''}`,
  );
  const steps = stepMedians(runs).filter((x) => x.step !== 'handler');
  if (steps.length) console.log(`  steps: ${steps.map((x) => `${x.step} ${x.ms}`).join(', ')}`);
}
