/**
 * What every `npm run chaos` scenario uses: the traffic process that runs the packaged greet bundle
 * (scripts/chaos/traffic.mjs) and collects its lines, and the latency figures of a window.
 */
import { join } from 'node:path';
import { startProcess, type ManagedProcess } from '../stack/processes';
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
