/**
 * The headline figures of the benchmark results as Markdown (pure): each figure beside its target
 * and the run (date and machine) that measured it, then the fleet table, each row with its own run.
 * A figure the results do not hold is left out with the reason, never printed as NaN or "?"; a
 * section that is missing is said to be missing.
 */
import { cell, isFigure, kb, millis, times, verdict } from './format';
import { distinctRuns, fleetRowRun, runLabel, type FleetSection, type Merged, type RunInfo } from './report-model';

/** One headline figure: its text, target and run; or a figure left out, and why. */
export type HeadlineRow = { figure: string; measured: string; target: string; run: RunInfo } | { figure: string; leftOut: string };

/** Headline `figure` from `value` when it is a number (`text` writes it), else left out naming `missing`. */
function figureRow(
  figure: string,
  run: RunInfo,
  value: number | undefined,
  text: (v: number) => string | undefined,
  target: string,
  missing: string,
): HeadlineRow {
  const measured = isFigure(value) ? text(value) : undefined;
  return measured === undefined ? { figure, leftOut: `${missing} was not measured` } : { figure, measured, target, run };
}

/** A number field of a section read as written (the metrics and tracing sections have no schema of their own). */
function numberIn(section: unknown, key: string): number | undefined {
  const v = typeof section === 'object' && section !== null ? (section as Record<string, unknown>)[key] : undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

const withDetail = (head: string | undefined, detail: Array<string | undefined>) =>
  head === undefined ? undefined : detail.every((d) => d !== undefined) ? `${head} (${detail.join(' / ')})` : head;

/** Every headline row the merged results hold, in a fixed order. */
export function headlineRows(merged: Merged): HeadlineRow[] {
  const rows: HeadlineRow[] = [];
  const { warm, bundle } = merged.sections;
  const cold = merged.sections['cold-start'];
  if (warm) {
    const p = Object.fromEntries(warm.latency.map((l) => [l.path, l]));
    const r = warm.ratios;
    const ratioRow = (figure: string, key: string, ok: (v: number) => boolean, target: string, a?: number, b?: number) =>
      figureRow(
        figure,
        warm.run,
        r[key],
        (v) => withDetail(`${times(v)} ${verdict(v, ok)}`, [millis(a, 3), millis(b, 3)]),
        target,
        `the ratio "${key}"`,
      );
    rows.push(
      ratioRow('Warm p50, greet / raw grpc-js', 'greet/raw p50', (v) => v <= 1.15, '≤ 1.15×', p.greet?.p50, p.raw?.p50),
      ratioRow('Warm p99, greet / raw grpc-js', 'greet/raw p99', (v) => v <= 1.15, '≤ 1.15×', p.greet?.p99, p.raw?.p99),
      ratioRow('Warm p50, seed pattern / greet', 'seed/greet p50', (v) => v >= 5, '≥ 5×', p.seed?.p50, p.greet?.p50),
    );
    if (p.raw1)
      rows.push(
        figureRow(
          'Warm p50, greet / raw grpc-js to one address',
          warm.run,
          r['greet/raw1 p50'],
          (v) => withDetail(times(v), [millis(p.raw1?.p50, 3) && `${millis(p.raw1?.p50, 3)} raw`]),
          '(reference)',
          'the ratio "greet/raw1 p50"',
        ),
      );
    const cpu = warm.cpuPerCallUs;
    if (cpu)
      rows.push(
        figureRow(
          'Warm CPU per call in the calling process, greet / raw grpc-js',
          warm.run,
          cpu.greet !== undefined && cpu.raw ? cpu.greet / cpu.raw : undefined,
          (v) => `${times(v)} (${cpu.greet} µs / ${cpu.raw} µs)`,
          '(reported)',
          'the CPU per call of greet or raw',
        ),
      );
    const c = warm.concurrency;
    if (c)
      rows.push(
        figureRow(
          `${c.inFlight} in flight, greet / raw throughput`,
          warm.run,
          c.ratio,
          (v) => `${times(v)} ${verdict(v, (x) => x >= 0.95)} (${c.greetPerSec} / ${c.rawPerSec} calls/s)`,
          '≥ 0.95×',
          'the throughput ratio',
        ),
      );
    // The floors: raw grpc-js carrying the trace metadata greet sends. No gateway that propagates the
    // trace on every call goes past them, so they say how much of a gap is ours.
    if (c && isFigure(c.rawTraceRatio))
      rows.push(
        figureRow(
          `${c.inFlight} in flight, raw grpc-js with greet's trace metadata / raw (the most a propagating caller reaches)`,
          warm.run,
          c.rawTraceRatio,
          (v) => `${times(v)} (${c.rawTracePerSec} / ${c.rawPerSec} calls/s)`,
          '(floor)',
          'the raw+trace throughput ratio',
        ),
      );
    if (isFigure(r['greet/raw+trace p50']))
      rows.push(
        figureRow(
          "Warm p50, greet / raw grpc-js with greet's trace metadata",
          warm.run,
          r['greet/raw+trace p50'],
          (v) => withDetail(times(v), [millis(p.greet?.p50, 3), millis(p['raw+trace']?.p50, 3)]),
          '(reference)',
          'the ratio "greet/raw+trace p50"',
        ),
      );
  }
  if (cold)
    rows.push(
      figureRow(
        'Cold start in the emulator (init + first call), greet / floor',
        cold.run,
        cold.ratio,
        (v) => withDetail(`${times(v)} ${verdict(v, (x) => x <= 1.3)}`, [millis(cold.greet.totalMs, 0), millis(cold.floor.totalMs, 0)]),
        '≤ 1.3×',
        'the cold-start ratio',
      ),
    );
  if (bundle) {
    const alone = bundle.grpcJsAlone.requireMs;
    for (const f of bundle.functions)
      rows.push(
        figureRow(
          `Bundle ${f.name}: size; load (as the runtime client loads it) / grpc-js alone`,
          bundle.run,
          alone > 0 ? f.requireMs / alone : undefined,
          (v) =>
            withDetail(`${kb(f.bytes)} ${verdict(f.bytes, (b) => b <= 600 * 1024)}; ${times(v)} ${verdict(v, (x) => x <= 1.3)}`, [
              millis(f.requireMs, 1),
              millis(alone, 1),
            ]),
          '≤ 600 KB; ≤ 1.3×',
          `grpc-js alone's load time (the baseline of ${f.name})`,
        ),
      );
    const m = bundle.memory as Record<string, unknown> | undefined;
    rows.push(
      figureRow(
        `Memory after ${isFigure(m?.invocations) ? m.invocations : 'the'} invocations, greet / grpc-js with one channel (RSS)`,
        bundle.run,
        isFigure(m?.rssRatio) ? m.rssRatio : undefined,
        (v) => `${times(v)} ${verdict(v, (x) => x <= 1.2)}`,
        '≤ 1.2×',
        'the memory ratio',
      ),
    );
  }
  const { metrics, tracing } = merged.sections;
  if (metrics)
    rows.push(
      figureRow(
        'Metrics (EMF) on / off, warm greet p50',
        metrics.run,
        numberIn(metrics, 'ratioP50'),
        (v) =>
          withDetail(times(v), [
            millis(numberIn(metrics, 'emfLineMs'), 3) && `one EMF line: ${millis(numberIn(metrics, 'emfLineMs'), 3)}, at most every 10 s`,
          ]),
        '(reported)',
        'the metrics on/off ratio',
      ),
    );
  if (tracing)
    rows.push(
      figureRow(
        'Trace propagation on / off, warm greet p50',
        tracing.run,
        numberIn(tracing, 'ratioP50'),
        (v) =>
          withDetail(`${times(v)} ${verdict(v, (x) => x <= 1.02)}`, [
            isFigure(numberIn(tracing, 'aaRatioP50')) ? `A/A (off / off) ${times(numberIn(tracing, 'aaRatioP50') as number)}` : undefined,
          ]),
        '≤ 1.02×',
        'the tracing on/off ratio',
      ),
    );
  if (tracing && isFigure(numberIn(tracing, 'floorRatioP50')))
    rows.push(
      figureRow(
        'Trace propagation floor: raw grpc-js with the same headers / without, p50',
        tracing.run,
        numberIn(tracing, 'floorRatioP50'),
        (v) =>
          withDetail(times(v), [
            isFigure(numberIn(tracing, 'leastOnOffP50'))
              ? `the least on / off a propagating gateway could show: ${times(numberIn(tracing, 'leastOnOffP50') as number)}`
              : undefined,
          ]),
        '(floor)',
        'the tracing floor',
      ),
    );
  return rows;
}

/** The fleet table: one row per source, lease mode and size, each with its run; then the formula. */
export function fleetTable(f: FleetSection): string[] {
  return [
    '| source | lease | environments | processes | Consul discovery req/s | Consul lease req/s | agent HTTP req/s | DNS questions at Consul /s | server RPC/s | change reaches all: p50 / max | connections per IP | 429s | Run |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...f.rows.map(
      (r) =>
        `| ${r.source ?? 'consul'} | ${r.leaseMode ?? 'agent'} | ${r.environments} | ${r.processes} | ${cell(r.consulDiscoveryRequestsPerSec)} | ${cell(r.consulLeaseRequestsPerSec)} | ${cell(r.agentHttpPerSec)} | ${cell(r.consulDnsQueriesPerSec)} | ${cell(r.consulRequestsPerSec)} | ${millis(r.propagationP50Ms, 0) ?? '–'} / ${millis(r.propagationMaxMs, 0) ?? '–'} | ${r.connectionsPerIp} | ${r.http429} | ${runLabel(fleetRowRun(f, r))} |`,
    ),
    '',
    `Formula: ${f.formula}`,
  ];
}

/** The runs behind `merged`, in one sentence: one run named, or several said to differ per row. */
export function runsSentence(merged: Merged): string {
  const { fleet } = merged.sections;
  const runs = Object.values(merged.sections).flatMap((s) => (s ? [s.run] : []));
  if (fleet) runs.push(...fleet.rows.map((r) => fleetRowRun(fleet, r)));
  const labels = distinctRuns(runs);
  if (labels.length <= 1) return `Measured on ${labels[0] ?? 'an unknown machine'} (\`npm run bench\`); every row is of this run.`;
  return `Rows from ${labels.length} runs (\`npm run bench\`), ${merged.date}: each row names the date and machine of its run.`;
}

/** The Markdown summary of `merged`: headline table, fleet table, and what was left out or is missing. */
export function summaryMarkdown(merged: Merged): string {
  const rows = headlineRows(merged);
  const shown = rows.flatMap((r) => ('leftOut' in r ? [] : [r]));
  const leftOut = rows.flatMap((r) => ('leftOut' in r ? [r] : []));
  const missing = (['warm', 'cold-start', 'bundle', 'fleet'] as const).filter((s) => !merged.sections[s]);
  const lines = [runsSentence(merged)];
  if (shown.length)
    lines.push(
      '',
      '| Figure | Measured | Target | Run |',
      '|---|---|---|---|',
      ...shown.map((r) => `| ${r.figure} | ${r.measured} | ${r.target} | ${runLabel(r.run)} |`),
    );
  if (leftOut.length) lines.push('', ...leftOut.map((r) => `Left out: ${r.figure}: ${r.leftOut}.`));
  if (merged.sections.fleet) lines.push('', ...fleetTable(merged.sections.fleet));
  if (missing.length) lines.push('', `Not in these results: ${missing.join(', ')}.`);
  for (const s of merged.skipped) lines.push('', `Skipped ${s.file}: ${s.reason}.`);
  return `${lines.join('\n')}\n`;
}
