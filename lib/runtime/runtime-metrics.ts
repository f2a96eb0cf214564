/**
 * One function's metrics (see lib/metrics/function-metrics.ts) with the counters every runtime shares
 * added at each flush: Consul requests, failed requests and 429-throttled ones since the last one, the environment
 * lease's successful and failed registrations or renewals, and discovery answers served by a fallback.
 */
import type { ConsulApi } from '../consul/consul-api';
import type { EnvironmentLease } from '../lease/environment-lease';
import { readPowertoolsEnvironment, type PowertoolsEnvironment } from '../config/environment';
import { createFunctionMetrics, type FunctionMetrics } from '../metrics/function-metrics';

/**
 * The least time between two EMF lines. CloudWatch's standard resolution is one minute; a line every
 * 10 s keeps values at most 10 s late, and a quiet function (an invocation a minute) flushes every time.
 */
export const METRICS_FLUSH_INTERVAL_MS = 10_000;

/**
 * Metrics for a runtime built on `consul` and `lease` (and, for a gateway with a discovery fallback,
 * `discovery`: DiscoveryFallbackServed, the answers a fallback source served since the last line);
 * off unless POWERTOOLS_METRICS_NAMESPACE is set. What is still buffered when the environment shuts
 * down goes out then (`onShutdown`), so the last invocations' values are not lost with it.
 */
export function createRuntimeMetrics(
  parts: {
    consul: ConsulApi;
    lease: EnvironmentLease;
    discovery?: { readonly fallbackAnswers: number };
    /** The runtime's shutdown hooks (FunctionRuntime.onShutdown): the buffered values go out there. */
    onShutdown: (hook: () => void) => void;
  },
  names: PowertoolsEnvironment = readPowertoolsEnvironment(),
): FunctionMetrics {
  let requests = 0;
  let fallbackServed = 0;
  let errors = 0;
  let throttled = 0;
  let renewals = 0;
  let failedRenewals = 0;
  const metrics = createFunctionMetrics({
    namespace: names.metricsNamespace,
    service: names.serviceName ?? names.functionName ?? 'consul-grpc-lambda',
    flushIntervalMs: METRICS_FLUSH_INTERVAL_MS,
    collect(count) {
      let total = 0;
      for (const n of parts.consul.requestCounts.values()) total += n;
      count('ConsulRequests', total - requests);
      requests = total;
      count('ConsulErrors', parts.consul.requestErrors - errors);
      errors = parts.consul.requestErrors;
      count('ConsulThrottled', (parts.consul.requestsThrottled ?? 0) - throttled);
      throttled = parts.consul.requestsThrottled ?? 0;
      const lease = parts.lease.snapshot();
      count('LeaseRenewals', lease.renewals - renewals);
      renewals = lease.renewals;
      count('LeaseFailures', lease.failedAttempts - failedRenewals);
      failedRenewals = lease.failedAttempts;
      // Only with a fallback configured: one more key on the line, none for the others.
      if (parts.discovery) {
        count('DiscoveryFallbackServed', parts.discovery.fallbackAnswers - fallbackServed);
        fallbackServed = parts.discovery.fallbackAnswers;
      }
    },
  });
  parts.onShutdown(() => metrics.flush(true));
  return metrics;
}
