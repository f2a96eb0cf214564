/**
 * How the report writes numbers (pure): a figure that is missing or not finite has no text here
 * (undefined), so a caller leaves its row out with a reason instead of printing NaN; a signed term
 * reads "+ 0.1" or "− 0.1", never "+ -0.1".
 */

/** True for a number that can be printed (finite). */
export function isFigure(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** `1.12×`, or undefined when `v` is not a figure. */
export function times(v: number | undefined): string | undefined {
  return isFigure(v) ? `${v.toFixed(2)}×` : undefined;
}

/** `12.3 ms` with `digits` decimals, or undefined when `v` is not a figure. */
export function millis(v: number | undefined, digits = 2): string | undefined {
  return isFigure(v) ? `${v.toFixed(digits)} ms` : undefined;
}

/** Bytes as whole KiB, written `561 KB` as the targets are. */
export function kb(bytes: number): string {
  return `${Math.round(bytes / 1024)} KB`;
}

/** `v` with `digits` decimals, or `–` when it is not a figure (a table cell that has nothing to show). */
export function cell(v: unknown, digits = 1): string {
  return isFigure(v) ? v.toFixed(digits) : '–';
}

/** A term added to an expression: `+ 0.1` or `− 0.1` (a minus sign, not "+ -"); zero (and −0) reads `+ 0`. */
export function signed(v: number): string {
  return v < 0 ? `− ${Math.abs(v)}` : `+ ${Math.abs(v)}`;
}

/** ✅ when `value` meets the target, ❌ when not. */
export function verdict(value: number, ok: (v: number) => boolean): string {
  return ok(value) ? '✅' : '❌';
}

/** What a console latency row shows of a summary (bench/measure.ts `stats`). */
interface LatencyFigures {
  n: number;
  p50: number;
  p99: number;
  mean: number;
}

/** The console table of a bench's cases: a header, then a row per case with n, p50, p99 and mean in ms (3 decimals), aligned. */
export function latencyTable(rows: ReadonlyArray<readonly [label: string, figures: LatencyFigures]>): string[] {
  const width = Math.max(4, ...rows.map(([label]) => label.length)) + 2;
  const ms = (x: number) => x.toFixed(3).padStart(8);
  return [
    `${'case'.padEnd(width)}     n   p50 ms   p99 ms  mean ms`,
    ...rows.map(([label, s]) => `${label.padEnd(width)} ${String(s.n).padStart(5)} ${ms(s.p50)} ${ms(s.p99)} ${ms(s.mean)}`),
  ];
}
