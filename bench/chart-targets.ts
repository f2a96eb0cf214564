/**
 * The figures that have a target, as rows for the chart's ratios panel (pure): each measured ratio,
 * its target and whether it meets it, labelled with the day of its run. A ratio the results do not
 * hold is not drawn (the summary table says why it is left out).
 */
import { dayOf, type Merged, type RunInfo } from './report-model';
import { isFigure } from './format';

/** One ratio against its target, as the chart draws it. */
export interface TargetRow {
  figure: string;
  ratio: number;
  target: number;
  targetLabel: string;
  /** Where the label goes: past the bar or the rule, whichever ends further right, so neither hides it. */
  labelAt: number;
  verdict: 'meets its target' | 'misses its target';
}

function row(figure: string, run: RunInfo, ratio: unknown, target: number, atMost: boolean): TargetRow[] {
  if (!isFigure(ratio)) return [];
  const meets = atMost ? ratio <= target : ratio >= target;
  return [
    {
      figure: `${figure} (${dayOf(run)})`,
      ratio,
      target,
      targetLabel: `target ${atMost ? '≤' : '≥'} ${target}×`,
      labelAt: Math.max(ratio, target),
      verdict: meets ? 'meets its target' : 'misses its target',
    },
  ];
}

/** Every ratio with a target that `merged` holds, in the summary table's order. */
export function headlineTargets(merged: Merged): TargetRow[] {
  const { warm, bundle, tracing } = merged.sections;
  const cold = merged.sections['cold-start'];
  const rows: TargetRow[] = [];
  if (warm)
    rows.push(
      ...row('warm p50, greet / raw', warm.run, warm.ratios['greet/raw p50'], 1.15, true),
      ...row('warm p99, greet / raw', warm.run, warm.ratios['greet/raw p99'], 1.15, true),
      ...row('warm p50, seed / greet', warm.run, warm.ratios['seed/greet p50'], 5, false),
    );
  if (cold) rows.push(...row('cold start, greet / floor', cold.run, cold.ratio, 1.3, true));
  if (bundle) {
    const alone = bundle.grpcJsAlone.requireMs;
    for (const f of bundle.functions)
      rows.push(...row(`load ${f.name} / grpc-js`, bundle.run, alone > 0 ? f.requireMs / alone : undefined, 1.3, true));
  }
  if (tracing) rows.push(...row('tracing on / off, p50', tracing.run, (tracing as Record<string, unknown>).ratioP50, 1.02, true));
  return rows;
}
