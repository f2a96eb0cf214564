/**
 * The chart of a benchmark run as one vega-lite spec (pure): warm latency percentiles per
 * path, the cold-start breakdown against the floor Lambda, and the fleet curve. A panel
 * whose section is missing is left out. bench/report.ts compiles and renders it to SVG.
 */
import type { TopLevelSpec } from 'vega-lite' with { 'resolution-mode': 'import' };
import type { ColdStartSection, FleetSection, Merged, WarmSection } from './report-model';

const PATH_ORDER = ['raw1', 'raw', 'greet', 'seed'];
const PATH_LABEL: Record<string, string> = {
  raw1: 'raw grpc-js, 1 address',
  raw: 'raw grpc-js, same backends',
  greet: 'greet (ours)',
  seed: 'seed: lookup + new client',
};
const WIDTH = 520;
const LEGEND = { labelLimit: 320 };

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

/** One panel of the vertical stack, typed by vega-lite itself. */
type Panel = Extract<TopLevelSpec, { vconcat: unknown }>['vconcat'][number];

function warmPanel(warm: WarmSection): Panel {
  const values = warm.latency.flatMap((l) =>
    (['p50', 'p90', 'p99'] as const)
      .filter((q) => typeof l[q] === 'number')
      .map((q) => ({ path: PATH_LABEL[l.path] ?? l.path, order: PATH_ORDER.indexOf(l.path), percentile: q, ms: l[q] })),
  );
  const ratios = warm.ratios;
  const subtitle = [
    `greet/raw p50 ${ratios['greet/raw p50'] ?? '?'}×, p99 ${ratios['greet/raw p99'] ?? '?'}×; seed/greet p50 ${ratios['seed/greet p50'] ?? '?'}×`,
  ];
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
  const values = [
    ...cold.breakdown.map((b, i) => ({ bar: 'greet, by step', step: b.step, order: i, ms: b.ms })),
    { bar: 'greet (emulator)', step: 'init', order: 100, ms: cold.greet.initMs },
    { bar: 'greet (emulator)', step: 'first invocation', order: 101, ms: cold.greet.firstInvokeMs },
    { bar: 'floor Lambda (emulator)', step: 'init', order: 100, ms: cold.floor.initMs },
    { bar: 'floor Lambda (emulator)', step: 'first invocation', order: 101, ms: cold.floor.firstInvokeMs },
  ];
  return {
    title: {
      text: 'Cold start (ms)',
      subtitle: `greet ${cold.greet.totalMs} ms against the floor's ${cold.floor.totalMs} ms: ${cold.ratio}×`,
    },
    width: WIDTH,
    data: { values },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: {
        field: 'bar',
        type: 'nominal',
        title: null,
        axis: { labelLimit: 240 },
        sort: ['greet, by step', 'greet (emulator)', 'floor Lambda (emulator)'],
      },
      x: { field: 'ms', type: 'quantitative', stack: 'zero', title: 'ms' },
      color: { field: 'step', type: 'nominal', sort: { field: 'order' }, title: 'step', legend: LEGEND },
      order: { field: 'order', type: 'quantitative' },
    },
  };
}

/** The name of a fleet row's series: its discovery source, and its lease mode when it held a lease. */
export function fleetSeries(r: FleetSection['rows'][number]): string {
  const source = r.source ?? 'consul';
  const lease = r.leaseMode ?? 'agent';
  return lease === 'off' ? `${source} (discovery only)` : `${source}, ${lease} lease`;
}

function fleetPanel(fleet: FleetSection): Panel {
  const x = { field: 'environments', type: 'quantitative', scale: { type: 'log' }, title: 'warm environments (log)' } as const;
  const line = { type: 'line', point: true, tooltip: true } as const;
  const color = { field: 'series', type: 'nominal', title: null, legend: LEGEND } as const;
  // Consul's load: every request it answered (agents' HTTP and DNS questions, servers' RPCs), and the discovery share of it.
  const load = fleet.rows.flatMap((r) => [
    {
      environments: r.environments,
      series: fleetSeries(r),
      share: 'all requests',
      requestsPerSec: r.consulRequestsPerSec + (r.agentHttpPerSec ?? 0) + (r.consulDnsQueriesPerSec ?? 0),
    },
    ...(typeof r.consulDiscoveryRequestsPerSec === 'number'
      ? [{ environments: r.environments, series: fleetSeries(r), share: 'discovery only', requestsPerSec: r.consulDiscoveryRequestsPerSec }]
      : []),
  ]);
  const propagation = fleet.rows.flatMap((r) => [
    { environments: r.environments, series: fleetSeries(r), figure: 'p50', ms: r.propagationP50Ms },
    { environments: r.environments, series: fleetSeries(r), figure: 'max', ms: r.propagationMaxMs },
  ]);
  return {
    title: {
      text: 'Fleet: Consul load and change propagation, per discovery source',
      subtitle: wrap(
        "Solid: every request Consul answered (the agents' HTTP and DNS questions, the servers' RPCs); dashed: its discovery share. The formula per source and lease mode is in summary.md.",
      ),
    },
    hconcat: [
      {
        width: WIDTH / 2 - 20,
        height: 220,
        data: { values: load },
        mark: line,
        encoding: {
          x,
          y: { field: 'requestsPerSec', type: 'quantitative', title: 'requests/s at Consul (agents + servers)' },
          color,
          strokeDash: { field: 'share', type: 'nominal', title: null },
        },
      },
      {
        width: WIDTH / 2 - 20,
        height: 220,
        data: { values: propagation },
        mark: line,
        encoding: {
          x,
          y: { field: 'ms', type: 'quantitative', title: 'backend change reaches all (ms)' },
          color,
          strokeDash: { field: 'figure', type: 'nominal', title: null },
        },
      },
    ],
  };
}

/** The vega-lite spec for the sections present (undefined when none of warm, cold-start, fleet is). */
export function chartSpec(merged: Merged): TopLevelSpec | undefined {
  const panels: Panel[] = [];
  const { warm, fleet } = merged.sections;
  const cold = merged.sections['cold-start'];
  if (warm) panels.push(warmPanel(warm));
  if (cold) panels.push(coldStartPanel(cold));
  if (fleet) panels.push(fleetPanel(fleet));
  if (!panels.length) return undefined;
  // Each panel's colour scale is its own: the paths, steps and figures share no names.
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'consul-grpc-lambda benchmarks', subtitle: merged.machine },
    vconcat: panels,
    spacing: 40,
    resolve: { scale: { color: 'independent' } },
    config: { font: 'sans-serif' },
  };
}
