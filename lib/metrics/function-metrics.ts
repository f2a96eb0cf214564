/**
 * The numbers an operator watches, as CloudWatch Embedded Metric Format lines through Powertools
 * Metrics. Kept off the hot path: an invocation only appends a value or adds to a counter in memory;
 * the EMF line (one JSON.stringify and one stdout write) goes out at most once per `flushIntervalMs`,
 * from whichever invocation crosses the interval, and on shutdown. Counters are summed per flush;
 * latencies keep every value (EMF value arrays), so CloudWatch still sees their distribution.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/** What use cases record. */
export interface FunctionMetrics {
  /** Adds `value` (default 1) to a counter. */
  count(name: string, value?: number): void;
  /** Records one latency sample, in milliseconds. */
  latency(name: string, ms: number): void;
  /** Records one sample of a level (e.g. instances discovered); CloudWatch aggregates the samples. */
  level(name: string, value: number): void;
  /** Publishes what is buffered when the interval has passed (`force`: now, e.g. on shutdown or after a scheduled run). */
  flush(force?: boolean): void;
}

/** Settings of one function's metrics. */
export interface FunctionMetricsOptions {
  /** CloudWatch namespace; metrics are off without one (tests, ad-hoc runs). */
  namespace: string | undefined;
  /** The `service` dimension: the function's name. */
  service: string;
  /** Least time between two EMF lines. */
  flushIntervalMs: number;
  /** Adds counters kept elsewhere (e.g. Consul requests since the last flush) just before each EMF line. */
  collect?: (count: FunctionMetrics['count']) => void;
  now?: () => number;
}

/** Metrics that record nothing: for runs without a namespace. */
export const noMetrics: FunctionMetrics = {
  count: () => undefined,
  latency: () => undefined,
  level: () => undefined,
  flush: () => undefined,
};

/** Buffered EMF metrics for one execution environment, or noMetrics when `namespace` is unset. */
export function createFunctionMetrics(o: FunctionMetricsOptions): FunctionMetrics {
  if (!o.namespace) return noMetrics;
  const now = o.now ?? Date.now;
  const emf = new Metrics({ namespace: o.namespace, serviceName: o.service });
  const counters = new Map<string, number>();
  let buffered = false;
  // The first invocation publishes at once, so a cold start shows up without waiting for a second one.
  let lastFlush = -Infinity;
  const count = (name: string, value = 1) => {
    counters.set(name, (counters.get(name) ?? 0) + value);
    buffered = true;
  };
  return {
    count,
    latency(name, ms) {
      // Powertools publishes by itself once a name holds 100 values (EMF's limit per metric).
      emf.addMetric(name, MetricUnit.Milliseconds, ms);
      buffered = true;
    },
    level(name, value) {
      emf.addMetric(name, MetricUnit.Count, value);
      buffered = true;
    },
    flush(force = false) {
      const t = now();
      if (!buffered || (!force && t - lastFlush < o.flushIntervalMs)) return;
      o.collect?.(count);
      for (const [name, value] of counters) emf.addMetric(name, MetricUnit.Count, value);
      counters.clear();
      emf.publishStoredMetrics();
      buffered = false;
      lastFlush = t;
    },
  };
}
