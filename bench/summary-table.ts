/**
 * The headline figures of a benchmark run as markdown for the README (pure): each figure
 * beside its target from issue 11, then the fleet table, and the machine and date that
 * produced them. A section that is missing is said to be missing, not left blank.
 */
import type { BundleSection, ColdStartSection, FleetSection, Merged, WarmSection } from './report-model';

const x = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '?' : `${v.toFixed(2)}×`);
const ms = (v: number | undefined, digits = 2) => (v === undefined || !Number.isFinite(v) ? '?' : `${v.toFixed(digits)} ms`);
const kb = (bytes: number) => `${Math.round(bytes / 1024)} KB`;
/** ✅ when `value` meets the target, ❌ when not, nothing when unknown. */
const mark = (value: number | undefined, ok: (v: number) => boolean) =>
  value === undefined || !Number.isFinite(value) ? '' : ok(value) ? ' ✅' : ' ❌';

function warmRows(w: WarmSection): string[] {
  const p = Object.fromEntries(w.latency.map((l) => [l.path, l]));
  const r = w.ratios;
  const rows = [
    `| Warm p50, greet / raw grpc-js | ${x(r['greet/raw p50'])}${mark(r['greet/raw p50'], (v) => v <= 1.15)} (${ms(p.greet?.p50, 3)} / ${ms(p.raw?.p50, 3)}) | ≤ 1.15× |`,
    `| Warm p99, greet / raw grpc-js | ${x(r['greet/raw p99'])}${mark(r['greet/raw p99'], (v) => v <= 1.15)} (${ms(p.greet?.p99, 3)} / ${ms(p.raw?.p99, 3)}) | ≤ 1.15× |`,
    `| Warm p50, seed pattern / greet | ${x(r['seed/greet p50'])}${mark(r['seed/greet p50'], (v) => v >= 5)} (${ms(p.seed?.p50, 3)} / ${ms(p.greet?.p50, 3)}) | ≥ 5× |`,
  ];
  if (p.raw1)
    rows.push(`| Warm p50, greet / raw grpc-js to one address | ${x(r['greet/raw1 p50'])} (${ms(p.raw1.p50, 3)} raw) | (reference) |`);
  const cpu = w.cpuPerCallUs;
  if (cpu?.greet !== undefined && cpu.raw)
    rows.push(
      `| Warm CPU per call in the calling process, greet / raw grpc-js | ${x(cpu.greet / cpu.raw)} (${cpu.greet} µs / ${cpu.raw} µs) | (reported) |`,
    );
  if (w.concurrency) {
    const c = w.concurrency;
    rows.push(
      `| ${c.inFlight} in flight, greet / raw throughput | ${x(c.ratio)} (${c.greetPerSec} / ${c.rawPerSec} calls/s) | (reported) |`,
    );
  }
  return rows;
}

function coldRows(c: ColdStartSection): string[] {
  return [
    `| Cold start in the emulator (init + first call), greet / floor | ${x(c.ratio)}${mark(c.ratio, (v) => v <= 1.3)} (${ms(c.greet.totalMs, 0)} / ${ms(c.floor.totalMs, 0)}) | ≤ 1.3× |`,
  ];
}

function bundleRows(b: BundleSection): string[] {
  const alone = b.grpcJsAlone.requireMs;
  return b.functions.map((f) => {
    const ratio = alone > 0 ? f.requireMs / alone : undefined;
    return `| Bundle ${f.name}: size; load (as the runtime client loads it) / grpc-js alone | ${kb(f.bytes)}${mark(f.bytes, (v) => v <= 600 * 1024)}; ${x(ratio)}${mark(ratio, (v) => v <= 1.3)} (${ms(f.requireMs, 1)} / ${ms(alone, 1)}) | ≤ 600 KB; ≤ 1.3× |`;
  });
}

/** The metrics section's two figures, read defensively: it is kept as written (no schema of its own). */
function metricsRows(m: unknown): string[] {
  const f = (k: string) =>
    typeof m === 'object' && m !== null && typeof (m as Record<string, unknown>)[k] === 'number'
      ? (m as Record<string, number>)[k]
      : undefined;
  return [
    `| Metrics (EMF) on / off, warm greet p50 | ${x(f('ratioP50'))} (one EMF line: ${ms(f('emfLineMs'), 3)}, at most every 10 s) | (reported) |`,
  ];
}

/** The tracing section's on/off ratio, read as defensively as the metrics one. */
function tracingRows(m: unknown): string[] {
  const f = (k: string) =>
    typeof m === 'object' && m !== null && typeof (m as Record<string, unknown>)[k] === 'number'
      ? (m as Record<string, number>)[k]
      : undefined;
  const ratio = f('ratioP50');
  return [
    `| Trace propagation on / off, warm greet p50 | ${x(ratio)}${ratio === undefined ? '' : mark(ratio, (v) => v <= 1.02)} | ≤ 1.02× |`,
  ];
}

function fleetTable(f: FleetSection): string[] {
  const n = (v: unknown, d = 1) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '–');
  return [
    '| source | lease | environments | processes | Consul discovery req/s | Consul lease req/s | agent HTTP req/s | DNS questions at Consul /s | server RPC/s | change reaches all: p50 / max | connections per IP | 429s |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...f.rows.map(
      (r) =>
        `| ${r.source ?? 'consul'} | ${r.leaseMode ?? 'agent'} | ${r.environments} | ${r.processes} | ${n(r.consulDiscoveryRequestsPerSec)} | ${n(r.consulLeaseRequestsPerSec)} | ${n(r.agentHttpPerSec)} | ${n(r.consulDnsQueriesPerSec)} | ${r.consulRequestsPerSec.toFixed(1)} | ${ms(r.propagationP50Ms, 0)} / ${ms(r.propagationMaxMs, 0)} | ${r.connectionsPerIp} | ${r.http429} |`,
    ),
    '',
    `Formula: ${f.formula}`,
  ];
}

/** The markdown summary of `merged`: headline table, fleet table, machine and date. */
export function summaryMarkdown(merged: Merged): string {
  const { warm, bundle, fleet } = merged.sections;
  const cold = merged.sections['cold-start'];
  const missing = (['warm', 'cold-start', 'bundle', 'fleet'] as const).filter((s) => !merged.sections[s]);
  const lines = [
    `Measured on ${merged.machine}, ${merged.date} (\`npm run bench\`).`,
    '',
    '| Figure | Measured | Target |',
    '|---|---|---|',
    ...(warm ? warmRows(warm) : []),
    ...(cold ? coldRows(cold) : []),
    ...(bundle ? bundleRows(bundle) : []),
    ...(merged.sections.metrics ? metricsRows(merged.sections.metrics) : []),
    ...(merged.sections.tracing ? tracingRows(merged.sections.tracing) : []),
  ];
  if (fleet) lines.push('', ...fleetTable(fleet));
  if (missing.length) lines.push('', `Not in this run: ${missing.join(', ')}.`);
  for (const s of merged.skipped) lines.push('', `Skipped ${s.file}: ${s.reason}.`);
  return `${lines.join('\n')}\n`;
}
