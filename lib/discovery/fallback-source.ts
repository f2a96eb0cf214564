/**
 * An ordered fallback over discovery sources: the primary serves while it answers; when it gives
 * no answer at all (every address refused or timed out, DNS timing out, Cloud Map out of reach)
 * the first fallback that answers serves instead, at cold start and while warm. An answer that is
 * an error (a 403, a 404, a bad request) is an answer: it does not switch. While a fallback serves,
 * the primary is probed with a short non-blocking call at most every `probeIntervalMs`, and the
 * first answer it gives takes the watches back to it.
 */
import { isUnreachable } from '../consul/consul-api';
import type { Indexed } from '../consul/consul-api';
import type { ServiceInstance } from '../consul/service-instances';
import { AppError } from '../errors/app-error';
import { errorSummary, type Log } from '../log/logger';
import type { DiscoverySourceName, HealthSource } from './health-source';
import { queryKey, type ServiceQuery } from './service-query';

/** Tuning and hooks of a fallback source. */
export interface FallbackOptions {
  log: Log;
  /** True when `err` means the source gave no answer at all (default: isNoAnswer). */
  cannotAnswer?: (err: unknown) => boolean;
  /** Least time between two probes of the primary while a fallback serves (default PROBE_INTERVAL_MS). */
  probeIntervalMs?: number;
  /** Longest a probe of the primary may take before it counts as no answer (default PROBE_TIMEOUT_MS). */
  probeTimeoutMs?: number;
  /** Longest the primary may take to answer a poll without an index (a cold start) before the fallback is asked (default FIRST_ANSWER_TIMEOUT_MS). */
  firstAnswerTimeoutMs?: number;
  now?: () => number;
}

/** Default of FallbackOptions.probeIntervalMs: a return to the primary within ~3 s of it answering again. */
export const PROBE_INTERVAL_MS = 3_000;
/** Default of FallbackOptions.probeTimeoutMs. */
export const PROBE_TIMEOUT_MS = 1_000;
/**
 * Default of FallbackOptions.firstAnswerTimeoutMs. A healthy agent answers a non-blocking health
 * query in milliseconds; a silent one must leave the fallback time to answer within the 400 ms a
 * cold start on default config gives discovery (lib/greeter/greet.ts). A needless switch costs
 * one probe interval on the fallback.
 */
export const FIRST_ANSWER_TIMEOUT_MS = 250;

/** What /status shows about the fallback. */
export interface FallbackSnapshot {
  primary: DiscoverySourceName;
  fallbacks: DiscoverySourceName[];
  /** The source that served the last answer (of any query). */
  active: DiscoverySourceName;
  /** Since when the primary has given no answer; absent while it answers. */
  primaryDownSince?: string;
  lastPrimaryError?: string;
  /** Times the serving source changed. */
  switches: number;
  /** Answers served, per source. */
  answers: Partial<Record<DiscoverySourceName, number>>;
  probeIntervalMs: number;
}

/** A HealthSource that also says which of its sources served each query. */
export interface FallbackHealthSource extends HealthSource {
  /** The source whose answer the watch of `query` holds; undefined before the first answer. */
  servedBy(query: ServiceQuery): DiscoverySourceName | undefined;
  /** Answers served by a fallback so far (a cumulative count, for metrics). */
  readonly fallbackAnswers: number;
  snapshot(): FallbackSnapshot;
}

/**
 * True when `err` says a source gave no answer at all: Consul's unreachable errors, or any error
 * that carries `noAnswer: true` (the convention of the DNS and Cloud Map sources' typed errors).
 */
export function isNoAnswer(err: unknown): boolean {
  if (isUnreachable(err)) return true;
  return typeof err === 'object' && err !== null && (err as { noAnswer?: unknown }).noAnswer === true;
}

/** Per query: which source's answer the watch holds, that source's index, and the index the watch was given. */
interface QueryState {
  served?: number;
  inner?: string;
  outward?: bigint;
  /** Instances in the last answer served. */
  count?: number;
}

/** A source did not answer within the time a cold start or a probe gives it (a watch's lastError; never reaches HTTP). */
export class DiscoveryNoAnswerError extends AppError<'no_answer'> {
  override name = 'DiscoveryNoAnswerError';
  readonly domain = 'discovery';
  readonly noAnswer = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super('no_answer', message, options);
  }
}

/** Wraps `primary` with `fallbacks`, tried in order while the primary cannot answer; name is the primary's. */
export function fallbackHealthSource(
  primary: HealthSource,
  fallbacks: readonly HealthSource[],
  options: FallbackOptions,
): FallbackHealthSource {
  const sources = [primary, ...fallbacks];
  const log = options.log;
  const cannotAnswer = options.cannotAnswer ?? isNoAnswer;
  const probeIntervalMs = options.probeIntervalMs ?? PROBE_INTERVAL_MS;
  const probeTimeoutMs = options.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
  const firstAnswerTimeoutMs = options.firstAnswerTimeoutMs ?? FIRST_ANSWER_TIMEOUT_MS;
  const now = options.now ?? Date.now;
  const states = new Map<string, QueryState>();
  const answers = new Map<number, number>();
  let active = 0;
  let switches = 0;
  let primaryDownSince: number | undefined;
  let lastPrimaryError: string | undefined;
  let nextProbeAt = 0;
  let fallbackAnswers = 0;

  const state = (query: ServiceQuery) => {
    const key = queryKey(query);
    let s = states.get(key);
    if (!s) states.set(key, (s = {}));
    return s;
  };

  // Indexes the watch sees stay growing decimal counters across switches: the source's own index
  // while it grows (Consul's X-Consul-Index shows through), else one more than the last one given.
  const answer = (s: QueryState, i: number, res: Indexed<ServiceInstance[]>): Indexed<ServiceInstance[]> => {
    const changed = s.served !== i || s.inner !== res.index || s.outward === undefined;
    if (changed) {
      const inner = /^\d+$/.test(res.index) ? BigInt(res.index) : 0n;
      const next = (s.outward ?? 0n) + 1n;
      s.outward = inner > next ? inner : next;
    }
    s.served = i;
    s.inner = res.index;
    s.count = res.value.length;
    answers.set(i, (answers.get(i) ?? 0) + 1);
    if (i > 0) fallbackAnswers++;
    if (i !== active) {
      switches++;
      const from = sources[active]!.name;
      active = i;
      if (i === 0) log.info('discovery: back on the primary source', { source: primary.name, from });
      else
        log.warn('discovery: the primary source cannot answer; serving from a fallback', {
          source: sources[i]!.name,
          from,
          error: lastPrimaryError,
        });
    }
    return { ...res, index: s.outward!.toString() };
  };

  const primaryAnswered = () => {
    primaryDownSince = undefined;
    lastPrimaryError = undefined;
  };
  const primaryFailed = (err: unknown) => {
    primaryDownSince ??= now();
    lastPrimaryError = errorSummary(err).message;
    nextProbeAt = now() + probeIntervalMs;
  };

  return {
    name: primary.name,
    get fallbackAnswers() {
      return fallbackAnswers;
    },
    async passingInstances(query, index, waitSeconds, signal) {
      const s = state(query);
      // The index the watch sends is ours; the source at hand gets its own, if it served the last answer.
      const current = index !== undefined && s.outward !== undefined && index === s.outward.toString();
      const innerFor = (i: number) => (current && s.served === i ? s.inner : undefined);
      let primaryError: unknown;
      if (primaryDownSince === undefined || now() >= nextProbeAt) {
        const probing = primaryDownSince !== undefined;
        const inner = innerFor(0);
        // A blocking poll may take its whole wait; a poll without an index (cold start) or a probe must answer soon.
        const limit = probing ? probeTimeoutMs : inner === undefined ? firstAnswerTimeoutMs : undefined;
        try {
          const res = await bounded(primary, query, inner, waitSeconds, signal, limit);
          // A primary back from an outage answers before its checks pass again (a restarted Consul
          // lists no passing instance for a few seconds): keep serving the fallback's non-empty list
          // and probe again after the interval, rather than trade instances for none.
          const empty = probing && res.value.length === 0 && (s.served ?? 0) > 0 && (s.count ?? 0) > 0;
          if (!empty) {
            primaryAnswered();
            return answer(s, 0, res);
          }
          nextProbeAt = now() + probeIntervalMs;
          lastPrimaryError = 'answers again, with no passing instance yet';
        } catch (err) {
          if (signal.aborted) throw err;
          if (!cannotAnswer(err)) {
            // An answer, even an error: the primary is reachable, so it keeps (or takes back) the watch.
            primaryAnswered();
            throw err;
          }
          primaryFailed(err);
          primaryError = err;
        }
      }
      // While a fallback serves, its wait is cut to the probe interval so the primary is probed on time.
      const fallbackWait = Math.max(1, Math.min(waitSeconds, Math.ceil(probeIntervalMs / 1000)));
      let lastError: unknown;
      for (let i = 1; i < sources.length; i++) {
        try {
          return answer(s, i, await bounded(sources[i]!, query, innerFor(i), fallbackWait, signal, undefined));
        } catch (err) {
          if (signal.aborted) throw err;
          lastError = err;
          log.warn('discovery: a fallback source failed too', { source: sources[i]!.name, error: errorSummary(err) });
        }
      }
      throw primaryError ?? lastError ?? new DiscoveryNoAnswerError(`${primary.name}: no answer`);
    },
    invalidate(query) {
      const served = state(query).served ?? active;
      sources[served]?.invalidate?.(query);
    },
    servedBy(query) {
      const served = states.get(queryKey(query))?.served;
      return served === undefined ? undefined : sources[served]!.name;
    },
    snapshot() {
      return {
        primary: primary.name,
        fallbacks: fallbacks.map((f) => f.name),
        active: sources[active]!.name,
        ...(primaryDownSince !== undefined ? { primaryDownSince: new Date(primaryDownSince).toISOString() } : {}),
        ...(lastPrimaryError ? { lastPrimaryError } : {}),
        switches,
        answers: Object.fromEntries([...answers].map(([i, n]) => [sources[i]!.name, n])),
        probeIntervalMs,
      };
    },
  };
}

/** One call to `source`; with `limitMs`, a call still unanswered after it is cancelled and counts as no answer. */
async function bounded(
  source: HealthSource,
  query: ServiceQuery,
  index: string | undefined,
  waitSeconds: number,
  signal: AbortSignal,
  limitMs: number | undefined,
): Promise<Indexed<ServiceInstance[]>> {
  if (limitMs === undefined) return source.passingInstances(query, index, waitSeconds, signal);
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, limitMs);
  const onAbort = () => controller.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await source.passingInstances(query, index, waitSeconds, controller.signal);
  } catch (err) {
    if (timedOut && !signal.aborted) throw new DiscoveryNoAnswerError(`${source.name}: no answer within ${limitMs} ms`, { cause: err });
    throw err;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}
