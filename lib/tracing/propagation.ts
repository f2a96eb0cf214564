/** Whether trace context goes to the Greeter, and the headers it travels in. */
import { injectWithOtel, otelPropagatorRegistered } from './otel-propagation';
import { traceFromSources, traceHeaders, type TraceContext, type TraceSources } from './trace-context';

/**
 * True unless TRACE_PROPAGATION is `false`, `off` or `0`. Read per invocation (one env lookup), so
 * a benchmark can compare both in one process.
 */
export function tracePropagationEnabled(): boolean {
  const v = process.env.TRACE_PROPAGATION?.trim().toLowerCase();
  return v !== 'false' && v !== 'off' && v !== '0';
}

/** The invocation's trace context, or undefined when propagation is off. */
export function invocationTrace(s: TraceSources): TraceContext | undefined {
  return tracePropagationEnabled() ? traceFromSources(s) : undefined;
}

/** The metadata every attempt of the call carries: ours, then the OpenTelemetry SDK's when one runs. */
export async function outgoingTraceHeaders(t: TraceContext): Promise<Record<string, string>> {
  const headers = traceHeaders(t);
  if (otelPropagatorRegistered()) await injectWithOtel(headers, t);
  return headers;
}
