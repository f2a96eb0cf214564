/**
 * The chart of the benchmark results as one vega-lite spec (pure): the ratios against their targets,
 * warm latency percentiles per path, the cold start (greet's own steps apart from the emulator's
 * phases), bundle sizes against their budget, and the fleet curves. Each panel names the date and
 * machine of its run(s); each goal is drawn as a rule with its label; each legend holds one meaning.
 * A panel whose section is missing is left out. bench/report.ts compiles and renders it to SVG.
 */
import type { TopLevelSpec } from 'vega-lite' with { 'resolution-mode': 'import' };
import { LEGEND, RULE, RULE_LABEL, WIDTH, runLine, type Panel } from './chart-parts';
import { fleetPanel } from './chart-fleet';
import { headlineTargets } from './chart-targets';
import { isFigure } from './format';
import { distinctRuns, fleetRowRun, type BundleSection, type ColdStartSection, type Merged, type WarmSection } from './report-model';

const PATH_ORDER = ['raw1', 'raw', 'greet', 'seed'];
const PATH_LABEL: Record<string, string> = {
  raw1: 'raw grpc-js, 1 address',
  raw: 'raw grpc-js, same backends',
  greet: 'greet (ours)',
  seed: 'seed: lookup + new client',
};

/** The runs of the sections the ratios panel draws from. */
function targetRuns(merged: Merged) {
  const { warm, bundle, tracing } = merged.sections;
  return [warm, merged.sections['cold-start'], bundle, tracing].flatMap((s) => (s ? [s.run] : []));
}

function targetsPanel(merged: Merged): Panel | undefined {
  const values = headlineTargets(merged);
  if (!values.length) return undefined;
  const y = { field: 'figure', type: 'nominal', title: null, sort: null, axis: { labelLimit: 0 } } as const;
  return {
    title: {
      text: 'Ratios against their targets',
      subtitle: [
        runLine(targetRuns(merged)),
        'Bar: measured; dark tick: the target, named at the end of its row; each row names the day of its run.',
      ],
    },
    width: WIDTH,
    data: { values },
    layer: [
      {
        mark: { type: 'bar', tooltip: true },
        encoding: {
          y,
          x: { field: 'ratio', type: 'quantitative', title: 'ratio (×)' },
          color: {
            field: 'verdict',
            type: 'nominal',
            title: 'against its target',
            legend: LEGEND,
            scale: { range: ['#4c9a5b', '#c4453c'] },
          },
        },
      },
      { mark: { type: 'tick', color: '#444', thickness: 2 }, encoding: { y, x: { field: 'target', type: 'quantitative' } } },
      {
        mark: { ...RULE_LABEL, dy: 0, baseline: 'middle' },
        encoding: { y, x: { field: 'labelAt', type: 'quantitative' }, text: { field: 'targetLabel' } },
      },
    ],
  };
}

function warmPanel(warm: WarmSection): Panel {
  const values = warm.latency.flatMap((l) =>
    (['p50', 'p90', 'p99'] as const)
      .filter((q) => isFigure(l[q]))
      .map((q) => ({ path: PATH_LABEL[l.path] ?? l.path, order: PATH_ORDER.indexOf(l.path), percentile: q, ms: l[q] })),
  );
  const subtitle = [runLine([warm.run]), 'Targets (greet / raw ≤ 1.15×, seed / greet ≥ 5×) are drawn in the ratios panel.'];
  if (warm.concurrency)
    subtitle.push(
      `${warm.concurrency.inFlight} in flight: greet ${warm.concurrency.greetPerSec} calls/s, raw ${warm.concurrency.rawPerSec} calls/s (${warm.concurrency.ratio}×)`,
    );
  return {
    title: { text: 'Warm path latency (ms)', subtitle },
    width: WIDTH,
    data: { values },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'percentile', type: 'nominal', title: null, sort: ['p50', 'p90', 'p99'], axis: { labelAngle: 0 } },
      xOffset: { field: 'path', sort: { field: 'order' } },
      // Linear on purpose: bars on a log axis would start at an arbitrary floor and mislead.
      y: { field: 'ms', type: 'quantitative', stack: null, title: 'ms' },
      color: { field: 'path', type: 'nominal', sort: { field: 'order' }, title: 'path', legend: LEGEND },
    },
  };
}

function coldStartPanel(cold: ColdStartSection): Panel {
  const steps = cold.breakdown.map((b, i) => ({ bar: 'greet', step: b.step, order: i, ms: b.ms }));
  const phases = (['greet', 'floor Lambda'] as const).flatMap((bar) => {
    const t = bar === 'greet' ? cold.greet : cold.floor;
    return [
      { bar, phase: 'init (INIT REPORT)', order: 0, ms: t.initMs },
      { bar, phase: 'first invocation', order: 1, ms: t.firstInvokeMs },
    ];
  });
  const targetMs = Math.round(cold.floor.totalMs * 1.3);
  const stacked = (field: 'step' | 'phase', title: string) =>
    ({
      y: { field: 'bar', type: 'nominal', title: null, sort: ['greet', 'floor Lambda'] },
      x: { field: 'ms', type: 'quantitative', stack: 'zero', title: 'ms' },
      color: { field, type: 'nominal', sort: { field: 'order' }, title, legend: LEGEND },
      order: { field: 'order', type: 'quantitative' },
    }) as const;
  return {
    title: {
      text: 'Cold start in the Lambda emulator (ms)',
      subtitle: [runLine([cold.run]), `greet ${cold.greet.totalMs} ms against the floor's ${cold.floor.totalMs} ms: ${cold.ratio}×`],
    },
    vconcat: [
      {
        title: { text: "greet's own trace, by step", fontSize: 11 },
        width: WIDTH,
        data: { values: steps },
        mark: { type: 'bar', tooltip: true },
        encoding: stacked('step', "step (greet's trace)"),
      },
      {
        title: { text: 'init and first invocation, as the emulator reports them', fontSize: 11 },
        width: WIDTH,
        layer: [
          { data: { values: phases }, mark: { type: 'bar', tooltip: true }, encoding: stacked('phase', 'phase (emulator)') },
          { data: { values: [{ ms: targetMs }] }, mark: RULE, encoding: { x: { field: 'ms', type: 'quantitative' } } },
          {
            data: { values: [{ ms: targetMs, label: `target: greet ≤ 1.3 × floor = ${targetMs} ms` }] },
            mark: { ...RULE_LABEL, y: 0, dy: -4 },
            encoding: { x: { field: 'ms', type: 'quantitative' }, text: { field: 'label' } },
          },
        ],
      },
    ],
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
  };
}

function bundlePanel(bundle: BundleSection): Panel {
  const budgetKb = 600;
  const values = bundle.functions.map((f) => ({ name: f.name, kb: Math.round(f.bytes / 1024) }));
  return {
    title: { text: 'Bundle size per function (KB)', subtitle: [runLine([bundle.run])] },
    width: WIDTH,
    layer: [
      {
        data: { values },
        mark: { type: 'bar', tooltip: true, color: '#5b7fa6' },
        encoding: { y: { field: 'name', type: 'nominal', title: null }, x: { field: 'kb', type: 'quantitative', title: 'KB' } },
      },
      { data: { values: [{ kb: budgetKb }] }, mark: RULE, encoding: { x: { field: 'kb', type: 'quantitative' } } },
      {
        data: { values: [{ kb: budgetKb, label: `budget: ${budgetKb} KB` }] },
        mark: { ...RULE_LABEL, y: 0, dy: -4, align: 'right', dx: -4 },
        encoding: { x: { field: 'kb', type: 'quantitative' }, text: { field: 'label' } },
      },
    ],
  };
}

/** The vega-lite spec for the sections present (undefined when none of warm, cold-start, bundle, fleet is). */
export function chartSpec(merged: Merged): TopLevelSpec | undefined {
  const { warm, fleet, bundle } = merged.sections;
  const cold = merged.sections['cold-start'];
  const body: Panel[] = [];
  if (warm) body.push(warmPanel(warm));
  if (cold) body.push(coldStartPanel(cold));
  if (bundle) body.push(bundlePanel(bundle));
  if (fleet) body.push(fleetPanel(fleet));
  if (!body.length) return undefined;
  const targets = targetsPanel(merged);
  const runs = Object.values(merged.sections).flatMap((s) => (s ? [s.run] : []));
  if (fleet) runs.push(...fleet.rows.map((r) => fleetRowRun(fleet, r)));
  // Each panel's colour scale is its own: paths, steps, phases, verdicts and series share no names.
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'consul-grpc-lambda benchmarks',
      subtitle: distinctRuns(runs).length === 1 ? runLine(runs) : 'Panels from several runs: each names its own date and machine.',
    },
    vconcat: targets ? [targets, ...body] : body,
    spacing: 40,
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
    config: { font: 'sans-serif' },
  };
}
