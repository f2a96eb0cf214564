/**
 * What every `npm run chaos` scenario uses: the traffic process that runs the packaged greet bundle
 * (scripts/chaos/traffic.mjs) and collects its lines, and a quantile.
 */
import { join } from 'node:path';
import { startProcess, type ManagedProcess } from '../stack/processes';

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

/** The `p` quantile of `xs` (nearest rank); NaN for none. */
export const q = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.max(0, Math.ceil(p * xs.length) - 1))] ?? NaN;

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
