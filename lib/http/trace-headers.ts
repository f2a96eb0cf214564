/** The trace context an HTTP invocation arrived with (see lib/tracing/trace-context.ts). */
import { readInvocationEnvironment, type InvocationEnvironment } from '../runtime/invocation';
import { traceFromSources, type TraceContext } from '../tracing/trace-context';
import { header, type HttpEventLike } from './event';

/**
 * The invocation's trace from the caller's `traceparent`/`tracestate`/`X-Amzn-Trace-Id` headers and
 * Lambda's `_X_AMZN_TRACE_ID` (read for this invocation, as Lambda changes it for each); undefined when
 * TRACE_PROPAGATION is off.
 */
export function traceOfEvent(event: HttpEventLike, inv: InvocationEnvironment = readInvocationEnvironment()): TraceContext | undefined {
  if (!inv.tracePropagation) return undefined;
  return traceFromSources({
    traceparent: header(event, 'traceparent'),
    tracestate: header(event, 'tracestate'),
    xrayHeader: header(event, 'x-amzn-trace-id'),
    xrayEnv: inv.xrayTraceId,
  });
}
