/**
 * One cold start in the Lambda Runtime Interface Emulator: a new emulator for the function, one
 * invocation, the emulator's figures (INIT REPORT, Duration), the function's answer and its own
 * cold-start trace (COLD_START_TRACE=1, lib/runtime/cold-start-trace.ts), then the emulator stops.
 */
import { COLD_START_TRACE_MESSAGE, type TraceStep } from '../../lib/runtime/cold-start-trace';
import { startLambdaRie } from '../../scripts/rie/lambda-rie';
import type { PackagedFunction } from '../../scripts/rie/package-functions';
import { httpEvent } from '../../scripts/support/lambda-events';
import { median } from '../measure';

/** One cold start: the emulator's figures, the HTTP status the function answered, and its own trace. */
export interface ColdRun {
  initMs: number;
  firstInvokeMs: number;
  totalMs: number;
  status: number;
  /** The error code the function answered with, when it did not answer 200. */
  error?: string;
  peakRssMb?: number;
  steps?: TraceStep[];
  /** How the runtime took the packaged V8 code cache, from the trace line (absent: packaged without one). */
  codeCache?: string;
  /** The function's warnings and errors during the cold invocation (message: error message). */
  warnings?: string[];
}

/** The function's trace line among `logs` (its steps, and how it took the code cache), if it logged one. */
export function traceOf(logs: string[]): { steps: TraceStep[]; codeCache?: string } | undefined {
  const line = logs.find((l) => l.includes(`"message":"${COLD_START_TRACE_MESSAGE}"`));
  if (!line) return undefined;
  return (JSON.parse(line.slice(line.indexOf('{'))) as { coldStart: { steps: TraceStep[]; codeCache?: string } }).coldStart;
}

/** The function's WARN and ERROR log lines among `logs`, shortened to message and error message. */
export function warnings(logs: string[]): string[] {
  const out: string[] = [];
  for (const l of logs) {
    if (!/"level":"(WARN|ERROR)"/.test(l)) continue;
    try {
      const j = JSON.parse(l.slice(l.indexOf('{'))) as { message?: string; error?: { message?: string } };
      out.push(j.error?.message ? `${j.message}: ${j.error.message}` : String(j.message));
    } catch {
      out.push(l.slice(0, 200));
    }
  }
  return out;
}

/** The `error.code` of a JSON error body. */
export function errorCode(body: string | undefined): string {
  try {
    return (JSON.parse(body ?? '') as { error?: { code?: string } }).error?.code ?? 'unknown';
  } catch {
    return 'unparsable';
  }
}

/**
 * Starts a new emulator for `fn`, invokes it once (its cold start) and stops it. A cold start that
 * failed before the use case ended its trace logs it on the next invocation: `flushTrace` makes one.
 */
export async function coldRun(
  fn: PackagedFunction,
  env: Record<string, string>,
  name: string,
  o: { beforeInvoke?: () => Promise<void>; flushTrace?: boolean } = {},
): Promise<ColdRun> {
  // No extension: the emulator then SIGKILLs the runtime at stop, as Lambda does without one (both sides alike).
  const rie = await startLambdaRie({ fn, env, sigtermExtension: false });
  try {
    await o.beforeInvoke?.();
    const inv = await rie.invoke(httpEvent('GET', { name }));
    if (inv.runtimeInitMs === undefined) throw new Error(`${fn.name}: no INIT REPORT on a cold invocation:\n${inv.logs.join('\n')}`);
    const answer = inv.payload as { statusCode?: number; body?: string } | undefined;
    const status = answer?.statusCode ?? 0;
    const error = status === 200 ? undefined : errorCode(answer?.body);
    // In the emulator init runs inside the first invocation, so its Duration includes init.
    let trace = traceOf(inv.logs);
    if (!trace && o.flushTrace) trace = traceOf((await rie.invoke(httpEvent('GET', { name: `${name}-flush` }))).logs);
    const steps = trace?.steps;
    const warned = warnings(inv.logs);
    return {
      initMs: inv.runtimeInitMs,
      firstInvokeMs: inv.report.durationMs - inv.runtimeInitMs,
      totalMs: inv.report.durationMs,
      status,
      ...(error ? { error } : {}),
      peakRssMb: inv.peakRssMb,
      steps,
      ...(trace?.codeCache ? { codeCache: trace.codeCache } : {}),
      ...(warned.length ? { warnings: warned } : {}),
    };
  } finally {
    await rie.stop();
  }
}

/** `run`, or an error naming `what` when the function did not answer 200. */
export function expectOk(run: ColdRun, what: string): ColdRun {
  if (run.status !== 200) throw new Error(`${what} answered ${run.status} ${run.error ?? ''}`);
  return run;
}

/** The median of `xs` (nearest rank, 0.1 ms); throws naming `what` when there is none, so a figure is never NaN. */
export function mid(xs: readonly number[], what: string): number {
  const m = median(xs);
  if (m === undefined) throw new Error(`no ${what} were measured`);
  return m;
}

/** Median of each trace step over `runs`, in the order the steps happen. */
export function stepMedians(runs: ColdRun[]): Array<{ step: string; ms: number }> {
  const byStep = new Map<string, number[]>();
  for (const r of runs) for (const s of r.steps ?? []) byStep.set(s.step, [...(byStep.get(s.step) ?? []), s.ms]);
  return [...byStep].map(([step, ms]) => ({ step, ms: mid(ms, `${step} steps`) }));
}

/** The medians of a variant's runs (init, first invocation, both, peak RSS when the emulator reported it); undefined without runs. */
export function variantMedians(
  runs: ColdRun[],
): { initMs: number; firstInvokeMs: number; totalMs: number; peakRssMb?: number } | undefined {
  if (!runs.length) return undefined;
  const rss = median(runs.flatMap((r) => (r.peakRssMb === undefined ? [] : [r.peakRssMb])));
  return {
    initMs: mid(
      runs.map((r) => r.initMs),
      'init durations',
    ),
    firstInvokeMs: mid(
      runs.map((r) => r.firstInvokeMs),
      'first invocations',
    ),
    totalMs: mid(
      runs.map((r) => r.totalMs),
      'cold starts',
    ),
    ...(rss === undefined ? {} : { peakRssMb: rss }),
  };
}
