/** The headers that carry an invocation's trace context to the Greeter. */
import { injectWithOtel, otelPropagatorRegistered } from './otel-propagation';
import { traceHeaders, type TraceContext } from './trace-context';

/**
 * The metadata every attempt of the call carries: ours, then the OpenTelemetry SDK's when one runs.
 * Without an SDK the answer is synchronous, so the warm path pays no extra await for it.
 */
export function outgoingTraceHeaders(t: TraceContext): Record<string, string> | Promise<Record<string, string>> {
  const headers = traceHeaders(t);
  return otelPropagatorRegistered() ? injectWithOtel(headers, t).then(() => headers) : headers;
}
