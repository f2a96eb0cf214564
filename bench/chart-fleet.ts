/**
 * The fleet panel of the chart (pure): Consul's load and the change propagation against the number of
 * warm environments, one series per discovery source and lease mode, each propagation target a rule.
 */
import { isFigure } from './format';
import { LEGEND, RULE, RULE_LABEL, WIDTH, runLine, wrap, type Panel } from './chart-parts';
import { fleetRowRun, type FleetSection } from './report-model';

/** The name of a fleet row's series: its discovery source, and its lease mode when it held a lease. */
export function fleetSeries(r: FleetSection['rows'][number]): string {
  const source = r.source ?? 'consul';
  const lease = r.leaseMode ?? 'agent';
  return lease === 'off' ? `${source} (discovery only)` : `${source}, ${lease} lease`;
}

/** The fleet panel: load on the left, propagation with its targets on the right. */
export function fleetPanel(fleet: FleetSection): Panel {
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
