/**
 * The fleet rows as formulas: per source and lease mode, a least-squares line of each load figure
 * against N, and whether the discovery share stayed flat from the smallest to the largest N.
 */
import { signed } from '../format';
import { round } from '../measure';
import type { FleetRow } from './fleet-row';

/** A fitted line. */
export interface Line {
  slope: number;
  intercept: number;
}

/** Least-squares line through (x, y). */
export function fit(points: ReadonlyArray<readonly [number, number]>): Line {
  const n = points.length;
  if (n === 0) throw new Error('no points to fit a line through');
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  const slope = sxx === 0 ? 0 : points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx;
  return { slope, intercept: my - slope * mx };
}

const num = (r: FleetRow, k: string) => (typeof r[k] === 'number' ? (r[k] as number) : 0);
const FIGURES = [
  'agentHttpPerSec',
  'consulDiscoveryRequestsPerSec',
  'consulLeaseRequestsPerSec',
  'serverRpcPerSec',
  'raftAppliesPerSec',
  'connectionsPerIp',
  'memoryPerEnvironmentKb',
] as const;

/** One formula per source and lease mode, the fits behind them, and one sentence over all. */
export function fleetFormulas(rows: readonly FleetRow[]): {
  formula: string;
  formulas: Record<string, string>;
  fits: Record<string, Record<string, Line | number>>;
} {
  const groups = new Map<string, FleetRow[]>();
  for (const r of rows) groups.set(`${r.source}/${r.leaseMode}`, [...(groups.get(`${r.source}/${r.leaseMode}`) ?? []), r]);
  const formulas: Record<string, string> = {};
  const fits: Record<string, Record<string, Line | number>> = {};
  for (const [key, list] of groups) {
    const sorted = [...list].sort((a, b) => a.environments - b.environments);
    const f: Record<string, Line | number> = {};
    for (const k of FIGURES) f[k] = fit(sorted.map((r) => [r.environments, num(r, k)] as const));
    const first = sorted[0]!;
    const last = sorted.at(-1)!;
    const d0 = num(first, 'consulDiscoveryRequestsPerSec');
    const d1 = num(last, 'consulDiscoveryRequestsPerSec');
    // Flat within 10 %: the discovery requests Consul answered at the largest N against the smallest.
    const growth = d0 > 0 ? (d1 - d0) / d0 : d1 > 0 ? Infinity : 0;
    f.discoveryGrowth = round(growth, 3);
    fits[key] = f;
    const line = (k: (typeof FIGURES)[number], unit: string) => {
      const l = f[k] as Line;
      return `${round(l.slope, 4)}·N ${signed(round(l.intercept, 1))}${unit}`;
    };
    formulas[key] =
      `${key} (N = ${sorted.map((r) => r.environments).join(', ')}): Consul discovery requests ≈ ${line('consulDiscoveryRequestsPerSec', ' /s')} ` +
      `(N = ${first.environments} → ${last.environments}: ${d0} → ${d1}/s, ${growth === Infinity ? 'from 0' : `${growth >= 0 ? '+' : ''}${round(growth * 100, 1)} %`}); ` +
      `lease requests ≈ ${line('consulLeaseRequestsPerSec', ' /s')}; HTTP at the agents ≈ ${line('agentHttpPerSec', ' /s')}; ` +
      `server RPCs ≈ ${line('serverRpcPerSec', ' /s')}; Raft applies ≈ ${line('raftAppliesPerSec', ' /s')}; ` +
      `connections from the IP to the agent ≈ ${line('connectionsPerIp', '')}; memory ≈ ${round(num(last, 'memoryPerEnvironmentKb'), 0)} KB per environment.`;
  }
  return { formula: Object.values(formulas).join(' '), formulas, fits };
}
