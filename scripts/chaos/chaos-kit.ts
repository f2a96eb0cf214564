/**
 * What every `npm run chaos` scenario uses: the traffic process that runs the packaged greet bundle
 * (scripts/chaos/traffic.mjs) and collects its lines, one cold start, and the row a fault window
 * makes.
 */
import { join } from 'node:path';
import { startProcess, stopProcess, type ManagedProcess } from '../stack/processes';
import { percentile, summarize } from '../support/percentiles';
import type { ChaosRow } from './chaos-table';

/** One invocation as traffic.mjs prints it. */
export interface Line {
  t: number;
  ms: number;
  status: number;
  attempts?: number;
  dc?: string;
  code?: string;
  /** The discovery source that held the local greeter watch's list (consul, cloudmap…). */
  src?: string;
  configSource?: string;
  stale?: boolean | null;
  /** `once` only: loading the bundle (Lambda's init), and process start → this answer. */
  importMs?: number;
  sinceStartMs?: number;
}

/**
 * p50, p99 and max of a window's latencies, by the project's one percentile definition (nearest
 * rank); NaN for an empty window, which the tables print as "-".
 */
export function latencyFigures(ms: readonly number[]): Pick<ChaosRow, 'p50' | 'p99' | 'max'> {
  const s = summarize(ms);
  return s ? { p50: s.p50, p99: s.p99, max: s.max } : { p50: NaN, p99: NaN, max: NaN };
}

/** The p99 latency of `ms`; 0 for none (a threshold derived from it then falls back to its floor). */
export const p99 = (ms: readonly number[]): number => percentile(ms, 99) ?? 0;

/** Starts the packaged greet in its own process: `loop` invokes back to back, `once` is one cold start. */
export function traffic(bundle: string, env: NodeJS.ProcessEnv, mode: 'loop' | 'once'): { proc: ManagedProcess; lines: () => Line[] } {
  const proc = startProcess(`traffic ${mode}`, process.execPath, [join(__dirname, 'traffic.mjs'), bundle, mode], { env });
  // Every line, not the process's bounded output buffer: a window holds thousands of requests.
  const all: Line[] = [];
  proc.lineListeners.add((l) => {
    if (l.startsWith('{"t"')) all.push(JSON.parse(l) as Line);
  });
  return { proc, lines: () => all };
}

/** A running traffic process and every line it has printed so far. */
export type Traffic = ReturnType<typeof traffic>;

/** Throws, with its last non-traffic output, if the traffic process of `scenario` ended in failure. */
export function checkTrafficExit(t: Traffic, scenario: string): void {
  const code = t.proc.child.exitCode;
  if (code === null || code === 0) return;
  const said = t.proc.output.filter((l) => !l.startsWith('{"t"')).slice(-20);
  throw new Error(`${scenario}: the traffic process died:\n${said.join('\n')}`);
}

/** One cold start: a fresh greet process, killed after `timeoutMs`; its one answer line. */
export async function coldStart(bundle: string, env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<Line> {
  const t = traffic(bundle, env, 'once');
  const timer = setTimeout(() => void stopProcess(t.proc, 'SIGKILL', 0), timeoutMs);
  await t.proc.exited;
  clearTimeout(timer);
  const line = t.lines()[0];
  if (!line) throw new Error(`cold start printed nothing:\n${t.proc.output.slice(-10).join('\n')}`);
  return line;
}

/**
 * The row of a fault window: what was sent and failed from `from` on, its latencies, and the time to
 * the last failed or slower-than-`slowMs` answer; the note gains the failures by code.
 */
export function windowRow(scenario: string, during: readonly Line[], from: number, slowMs: number, note: string): ChaosRow {
  const bad = during.filter((l) => l.status !== 200 || l.ms > slowMs);
  const codes = new Map<string, number>();
  for (const l of during) if (l.status !== 200) codes.set(l.code ?? String(l.status), (codes.get(l.code ?? String(l.status)) ?? 0) + 1);
  const failures = [...codes].map(([c, n]) => `${n} ${c}`).join(', ');
  return {
    scenario,
    sent: during.length,
    failed: during.filter((l) => l.status !== 200).length,
    remote: during.filter((l) => l.status === 200 && l.dc).length,
    ...latencyFigures(during.map((l) => l.ms)),
    recoverMs: bad.length ? Math.max(...bad.map((l) => l.t)) - from : 0,
    note: [note, failures].filter(Boolean).join('; '),
  };
}

/** What counts as slow in a window: five times the warm p99, and never under 50 ms. */
export const slowThreshold = (warm: readonly Line[]): number => Math.max(50, 5 * p99(warm.map((l) => l.ms)));
