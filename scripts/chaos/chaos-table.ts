/**
 * How `npm run chaos` reports (pure): the fixed-width table for the terminal, a Markdown table that
 * can be pasted into README.md or docs as is, and the JSON document that CHAOS_RESULTS=<file> writes.
 */

/** One scenario's figures over its fault window. */
export interface ChaosRow {
  scenario: string;
  sent: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
  /** From the fault to the last failed or slow request. */
  recoverMs: number;
  /** Requests a failover datacenter answered (the response's servedBy.datacenter). */
  remote: number;
  note: string;
}

/** What a chaos run writes to its results file. */
export interface ChaosResults {
  date: string;
  node: string;
  windowMs: number;
  rows: ChaosRow[];
  markdown: string;
}

const fixed = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-').padStart(8);
const grouped = (n: number) => n.toLocaleString('en-US');
const ms = (x: number) => (Number.isFinite(x) ? (x < 10 ? x.toFixed(1) : x.toFixed(0)) : '-');

/** The terminal table: one line per scenario, columns aligned. */
export function fixedWidthTable(rows: readonly ChaosRow[]): string {
  const head =
    'scenario                                                          sent  failed   p50 ms   p99 ms   max ms  recover ms  note';
  const lines = rows.map(
    (r) =>
      `${r.scenario.padEnd(64)} ${String(r.sent).padStart(5)} ${String(r.failed).padStart(7)} ${fixed(r.p50)} ${fixed(r.p99)} ${fixed(r.max)} ${String(Math.round(r.recoverMs)).padStart(11)}  ${r.note}`,
  );
  return [head, ...lines].join('\n');
}

/** The same rows as a Markdown table (the README's chaos table has this shape). */
export function markdownTable(rows: readonly ChaosRow[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const lines = rows.map((r) => {
    const failed = r.failed === 0 ? '0' : `${grouped(r.failed)} (last at ${Math.round(r.recoverMs)} ms)`;
    return `| ${cell(r.scenario)} | ${grouped(r.sent)} | ${failed} | ${ms(r.p50)} / ${ms(r.p99)} / ${ms(r.max)} | ${grouped(r.remote)} | ${cell(r.note)} |`;
  });
  return ['| fault | sent | failed | p50 / p99 / max ms | served by a failover dc | note |', '|---|---|---|---|---|---|', ...lines].join(
    '\n',
  );
}

/** The results document for `rows`. */
export function chaosResults(rows: readonly ChaosRow[], o: { date: Date; node: string; windowMs: number }): ChaosResults {
  return { date: o.date.toISOString(), node: o.node, windowMs: o.windowMs, rows: [...rows], markdown: markdownTable(rows) };
}
