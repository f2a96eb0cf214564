/**
 * One attempt of a call at one address: its own timer and the caller's signal, both cancelling the request
 * through node-consul's context; the failure mapped to a typed error once; and the counts a ConsulApi shows
 * (requests per operation, errors, throttled answers), so tests and /status can say what a code path cost.
 */
import { EventEmitter } from 'node:events';
import type { CallOptions } from './agent-failover';
import type { ConsulAddress } from './consul-address';
import { ConsulRequestError, ConsulTimeoutError } from './errors';
import type { RawConsulClient } from './raw-client';
import { toConsulError } from './request-errors';

/** A call's work against the client of the address tried; `ctx` carries cancellation (and, when asked, the response). */
export type RawCall<T> = (client: RawConsulClient, ctx: EventEmitter) => Promise<T>;

/** The request counters of one ConsulApi. */
export class RequestStats {
  /** HTTP requests started, per operation name. */
  readonly counts = new Map<string, number>();
  /** Requests that failed: no answer, a timeout, an error status (not the ones the caller cancelled). */
  errors = 0;
  /** Of `errors`, those Consul answered 429. */
  throttled = 0;
}

/** Where an attempt goes: the address, and its client (built on first use, inside the attempt). */
export interface AttemptTarget {
  endpoint: ConsulAddress;
  client: () => RawConsulClient;
}

/** What an attempt is: the operation, its share of the budget, the call's options, and whether `ctx` asks for the response. */
export interface AttemptSpec {
  operation: string;
  timeoutMs: number;
  opts: CallOptions;
  includeResponse: boolean;
}

/** Runs `run` once at `target` within `spec.timeoutMs`; throws a ConsulRequestError (ConsulTimeoutError on timeout or cancel). */
export async function attemptOnce<T>(stats: RequestStats, target: AttemptTarget, spec: AttemptSpec, run: RawCall<T>): Promise<T> {
  const { operation, timeoutMs, opts } = spec;
  stats.counts.set(operation, (stats.counts.get(operation) ?? 0) + 1);
  // node-consul cancels a request when its context emits 'cancel'.
  const ctx = Object.assign(new EventEmitter(), { includeResponse: spec.includeResponse });
  let reason: 'timeout' | 'aborted' | undefined;
  const cancel = (why: 'timeout' | 'aborted') => {
    reason ??= why;
    ctx.emit('cancel');
  };
  // clearTimeout on a plain timer is cheaper than AbortSignal.timeout per call.
  const timer = setTimeout(() => cancel('timeout'), timeoutMs);
  const onAbort = () => cancel('aborted');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (opts.signal?.aborted) throw new ConsulTimeoutError(operation, 'aborted before start');
    return await run(target.client(), ctx);
  } catch (err) {
    if (reason !== 'aborted' && !opts.signal?.aborted) stats.errors++;
    if (err instanceof ConsulRequestError) {
      if (err.isThrottled) stats.throttled++;
      throw err;
    }
    if (reason === 'timeout') throw new ConsulTimeoutError(operation, `timed out after ${timeoutMs} ms`);
    if (reason === 'aborted') throw new ConsulTimeoutError(operation, 'aborted');
    const mapped = toConsulError(operation, err, target.endpoint);
    if (mapped.isThrottled) stats.throttled++;
    throw mapped;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
