/**
 * The chart of the benchmark results as one vega-lite spec (pure): the ratios against their targets,
 * warm latency percentiles per path, the cold start (greet's own steps apart from the emulator's
 * phases), bundle sizes against their budget, and the fleet curves. Each panel names the date and
 * machine of its run(s); each goal is drawn as a rule with its label; each legend holds one meaning.
 * A panel whose section is missing is left out. bench/report.ts compiles and renders it to SVG.
 */
import type { TopLevelSpec } from 'vega-lite' with { 'resolution-mode': 'import' };
import { isFigure } from './format';
import { headlineTargets } from './chart-targets';
import {
  distinctRuns,
  fleetRowRun,
  type BundleSection,
  type ColdStartSection,
  type FleetSection,
  type Merged,
  type RunInfo,
  type WarmSection,
} from './report-model';

const PATH_ORDER = ['raw1', 'raw', 'greet', 'seed'];
const PATH_LABEL: Record<string, string> = {
  raw1: 'raw grpc-js, 1 address',
  raw: 'raw grpc-js, same backends',
  greet: 'greet (ours)',
  seed: 'seed: lookup + new client',
};
const WIDTH = 520;
// Wide enough for the longest label drawn (a cold-start step); nothing is cut with an ellipsis.
const LEGEND = { labelLimit: 0, titleLimit: 0 };
const RULE = { type: 'rule' as const, color: '#444', strokeDash: [4, 3] };
const RULE_LABEL = { type: 'text', align: 'left', dx: 4, dy: -6, fontSize: 10, color: '#444' } as const;

/** `text` cut at spaces into lines of at most `width` characters, so a long subtitle does not widen the chart. */
export function wrap(text: string, width = 110): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** The subtitle line naming the run(s) of a panel. */
export function runLine(runs: readonly RunInfo[]): string {
  const labels = distinctRuns(runs);
  return labels.length === 1 ? `Run: ${labels[0]}` : `Runs: ${labels.join('; ')}`;
}

/** One panel of the vertical stack, typed by vega-lite itself. */
export type Panel = Extract<TopLevelSpec, { vconcat: unknown }>['vconcat'][number];

function targetsPanel(merged: Merged): Panel | undefined {
  const values = headlineTargets(merged);
  if (!values.length) return undefined;
  const y = { field: 'figure', type: 'nominal', title: null, sort: null, axis: { labelLimit: 0 } } as const;
  return {
    title: { text: 'Ratios against their targets', subtitle: ['Bar: measured; dark tick: the target, named at the end of its row.'] },
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

/** The name of a fleet row's series: its discovery source, and its lease mode when it held a lease. */
export function fleetSeries(r: FleetSection['rows'][number]): string {
  const source = r.source ?? 'consul';
  const lease = r.leaseMode ?? 'agent';
  return lease === 'off' ? `${source} (discovery only)` : `${source}, ${lease} lease`;
}

function fleetPanel(fleet: FleetSection): Panel {
  // A tick under every measured size, the last one included (a log axis alone would stop at a power of ten).
  const sizes = [...new Set(fleet.rows.map((r) => r.environments))].sort((a, b) => a - b);
  const domain = [sizes[0] ?? 1, sizes.at(-1) ?? 1];
  const x = {
    field: 'environments',
    type: 'quantitative',
    scale: { type: 'log', domain, nice: false },
    axis: { values: sizes, format: ',d', labelOverlap: false },
    title: 'warm environments (log)',
  } as const;
  // Points in a layer of their own: a line's own points would take over the dash legend and hide its strokes.
  const line = { type: 'line', tooltip: true } as const;
  const point = { type: 'point', filled: true, tooltip: true } as const;
  const color = { field: 'series', type: 'nominal', title: 'source, lease', legend: LEGEND } as const;
  const dash = (title: string) =>
    ({ type: 'nominal', title, legend: { ...LEGEND, symbolType: 'stroke', symbolStrokeColor: '#444' } }) as const;
  // Consul's load: every request it answered (agents' HTTP and DNS questions, servers' RPCs), and the discovery share of it.
  const load = fleet.rows.flatMap((r) => [
    {
      environments: r.environments,
      series: fleetSeries(r),
      share: 'all requests',
      requestsPerSec: r.consulRequestsPerSec + (r.agentHttpPerSec ?? 0) + (r.consulDnsQueriesPerSec ?? 0),
    },
    ...(isFigure(r.consulDiscoveryRequestsPerSec)
      ? [{ environments: r.environments, series: fleetSeries(r), share: 'discovery only', requestsPerSec: r.consulDiscoveryRequestsPerSec }]
      : []),
  ]);
  const propagation = fleet.rows.flatMap((r) => [
    { environments: r.environments, series: fleetSeries(r), figure: 'p50', ms: r.propagationP50Ms },
    { environments: r.environments, series: fleetSeries(r), figure: 'max', ms: r.propagationMaxMs },
  ]);
  const loadY = { field: 'requestsPerSec', type: 'quantitative', title: 'requests/s at Consul (agents + servers)' } as const;
  const propagationY = { field: 'ms', type: 'quantitative', title: 'backend change reaches all (ms)' } as const;
  // Each distinct propagation target, labelled with the series it holds for.
  const byTarget = new Map<number, string[]>();
  for (const r of fleet.rows)
    if (isFigure(r.propagationTargetMs))
      byTarget.set(r.propagationTargetMs, [...new Set([...(byTarget.get(r.propagationTargetMs) ?? []), fleetSeries(r)])]);
  const targets = [...byTarget].map(([ms, series]) => ({ ms, label: `target ${ms / 1000} s: ${series.join(', ')}` }));
  return {
    title: {
      text: 'Fleet: Consul load and change propagation, per discovery source',
      subtitle: [
        runLine(fleet.rows.map((r) => fleetRowRun(fleet, r))),
        ...wrap(
          "Left, solid: every request Consul answered (the agents' HTTP and DNS questions, the servers' RPCs); dashed: its discovery share. The formula per source and lease mode is in summary.md.",
        ),
      ],
    },
    hconcat: [
      {
        width: WIDTH / 2 - 20,
        height: 220,
        data: { values: load },
        layer: [
          { mark: line, encoding: { x, y: loadY, color, strokeDash: { field: 'share', ...dash('Consul load') } } },
          { mark: point, encoding: { x, y: loadY, color } },
        ],
      },
      {
        width: WIDTH / 2 - 20,
        height: 220,
        layer: [
          {
            data: { values: propagation },
            layer: [
              { mark: line, encoding: { x, y: propagationY, color, strokeDash: { field: 'figure', ...dash('propagation') } } },
              { mark: point, encoding: { x, y: propagationY, color } },
            ],
          },
          { data: { values: targets }, mark: RULE, encoding: { y: { field: 'ms', type: 'quantitative' } } },
          {
            data: { values: targets },
            mark: { ...RULE_LABEL, x: 0, dx: 2 },
            encoding: { y: { field: 'ms', type: 'quantitative' }, text: { field: 'label' } },
          },
        ],
      },
    ],
    resolve: { scale: { strokeDash: 'independent' }, legend: { strokeDash: 'independent' } },
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
