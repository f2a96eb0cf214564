/**
 * Opt-in timing of an execution environment's cold start (`COLD_START_TRACE=1`): the
 * runtime and the use case mark the end of each step with `performance.now()`, which
 * counts from the start of the process, and the first invocation ends with one log line
 * listing the steps (bench/cold-start/ reads it). Off, which is the default, a
 * mark is one property test, so the calls can stay on every invocation's path.
 */
import type { Client, connectivityState as ConnectivityState } from '@grpc/grpc-js';
import { readColdStartTraceEnabled } from '../config/environment';
import type { Log } from '../log/logger';

/** One finished step: its name, how long it took, and when it ended (ms since the process started). */
export interface TraceStep {
  step: string;
  ms: number;
  atMs: number;
}

/** The message of the one line the trace logs; its `coldStart` attribute holds the steps. */
export const COLD_START_TRACE_MESSAGE = 'cold start trace';

// A type-only import keeps grpc-js out of the bundles that do not already carry it (registry, health-sync).
const READY: ConnectivityState.READY = 2;
const SHUTDOWN: ConnectivityState.SHUTDOWN = 4;
/** Longest a connection watch stays armed; a first connection takes milliseconds or fails well before this. */
const CONNECT_WATCH_MS = 10_000;
/** A runtime whose use case never ends the trace (e.g. /status) stops recording here. */
const MAX_MARKS = 32;

/** The steps of one cold start; a no-op unless enabled. */
export class ColdStartTrace {
  private marks: Array<{ step: string; at: number }> | undefined;

  constructor(
    enabled: boolean,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.marks = enabled ? [] : undefined;
  }

  /** True until the trace has ended (always false when disabled). */
  get active(): boolean {
    return this.marks !== undefined;
  }

  /** Records that `step` ended now; no-op when disabled or ended. */
  mark(step: string): void {
    if (this.marks && this.marks.length < MAX_MARKS) this.marks.push({ step, at: this.now() });
  }

  /** Marks `step` when `client`'s channel first turns READY (its first connection); no-op when disabled or ended. */
  markWhenReady(step: string, client: Pick<Client, 'getChannel'>): void {
    if (!this.marks) return;
    const channel = client.getChannel();
    const until = Date.now() + CONNECT_WATCH_MS;
    const watch = (state: ConnectivityState) => {
      if (state === READY) return this.mark(step);
      if (state === SHUTDOWN || !this.marks) return;
      // An error here is only the watch's deadline: the step is then left out.
      channel.watchConnectivityState(state, until, (err) => {
        if (!err) watch(channel.getConnectivityState(false));
      });
    };
    watch(channel.getConnectivityState(false));
  }

  /** The steps so far, in time order, each timed from the one before (the first from process start). */
  steps(): TraceStep[] {
    const sorted = [...(this.marks ?? [])].sort((a, b) => a.at - b.at);
    return sorted.map((m, i) => ({ step: m.step, ms: round(m.at - (sorted[i - 1]?.at ?? 0)), atMs: round(m.at) }));
  }

  /** Logs the steps as one info line and stops recording; no-op when disabled or ended. */
  end(log: Log): void {
    if (!this.marks) return;
    const steps = this.steps();
    this.marks = undefined;
    const codeCache = codeCacheStatus();
    log.info(COLD_START_TRACE_MESSAGE, { coldStart: { steps, totalMs: steps.at(-1)?.atMs ?? 0, ...(codeCache ? { codeCache } : {}) } });
  }
}

/**
 * How this process loaded the function's V8 code cache (used, rejected, stale, corrupt, absent), as the
 * package's loader module left it on a global (scripts/esbuild/code-cache-loader.mjs); undefined when
 * the function was packaged without one, or runs from source.
 */
function codeCacheStatus(): string | undefined {
  const status = (globalThis as Record<symbol, unknown>)[Symbol.for('consul-grpc-lambda.code-cache')];
  return typeof status === 'string' ? status : undefined;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** The process's trace: on when COLD_START_TRACE=1 at load, so an environment traces its own cold start only. */
export const coldStartTrace = new ColdStartTrace(readColdStartTraceEnabled());
