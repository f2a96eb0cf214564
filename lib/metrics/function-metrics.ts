/**
 * The numbers an operator watches, as CloudWatch Embedded Metric Format lines through Powertools
 * Metrics. Kept off the hot path: an invocation only appends a value or adds to a counter in memory;
 * the EMF line (one JSON.stringify and one stdout write) goes out at most once per `flushIntervalMs`,
 * from whichever invocation crosses the interval, and on shutdown (lib/runtime/runtime-metrics.ts).
 * Counters are summed per line; latencies keep every value (EMF value arrays), so CloudWatch still
 * sees their distribution. Each line is stamped with the time of its first value.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/**
 * Most values of one metric in one line: one short of EMF's limit of 100, at which Powertools writes a
 * line by itself mid-publish (splitting ours in two and clearing its timestamp). Exported for the bench.
 */
export const LINE_MAX_VALUES = 99;

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
  // Values wait here, not in Powertools' store: when Lambda Managed Instances run invocations
  // concurrently (AWS_LAMBDA_MAX_CONCURRENCY), that store belongs to one invocation, and what an
  // invocation added would be gone before another one published. Powertools sees them only inside publish.
  const samples = new Map<string, { unit: Unit; values: number[] }>();
  // When the first value since the last line was recorded (undefined: nothing buffered).
  let since: number | undefined;
  // The first invocation publishes at once, so a cold start shows up without waiting for a second one.
  let lastFlush = -Infinity;

  const add = (name: string, value = 1): void => void counters.set(name, (counters.get(name) ?? 0) + value);
  /** Writes the batch as one line at `t` (of `now`). */
  const publish = (t: number) => {
    o.collect?.(add);
    // The line carries the time of its first value, not of its writing: values written late (at shutdown,
    // or after a quiet spell) still count in the minute they happened, beside the calls they belong to.
    emf.setTimestamp(Math.round(Date.now() - (t - (since ?? t))));
    // At most LINE_MAX_VALUES values a name (and far fewer than 100 names): Powertools writes nothing before publish.
    for (const [name, { unit, values }] of samples) for (const v of values) emf.addMetric(name, unit, v);
    for (const [name, value] of counters) emf.addMetric(name, MetricUnit.Count, value);
    samples.clear();
    counters.clear();
    if (emf.hasStoredMetrics()) emf.publishStoredMetrics();
    since = undefined;
    lastFlush = t;
  };
  // Every value opens or joins the batch; one that comes an interval or more after the batch opened
  // (a quiet spell) sends the batch out first, under its own time. Interval 0 publishes at every flush
  // instead: a batch never goes stale between two.
  const batch = (): void => {
    const t = now();
    if (since === undefined) since = t;
    else if (o.flushIntervalMs > 0 && t - since >= o.flushIntervalMs) {
      publish(t);
      since = t;
    }
  };
  const sample = (name: string, unit: Unit, value: number) => {
    batch();
    const s = samples.get(name);
    if (!s) samples.set(name, { unit, values: [value] });
    // A full line goes out now, as Powertools would: a busy environment spreads its lines over the
    // invocations instead of writing one long burst at the interval.
    else if (s.values.push(value) >= LINE_MAX_VALUES) publish(now());
  };
  return {
    count(name, value) {
      batch();
      add(name, value);
    },
    latency: (name, ms) => sample(name, MetricUnit.Milliseconds, ms),
    level: (name, value) => sample(name, MetricUnit.Count, value),
    flush(force = false) {
      const t = now();
      if (since === undefined || (!force && t - lastFlush < o.flushIntervalMs)) return;
      publish(t);
    },
  };
}
