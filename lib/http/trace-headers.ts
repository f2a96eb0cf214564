/** The trace context an HTTP invocation arrived with (see lib/tracing/trace-context.ts). */
import { invocationTrace } from '../tracing/propagation';
import type { TraceContext } from '../tracing/trace-context';
import { header, type HttpEventLike } from './event';

/**
 * The invocation's trace from the caller's `traceparent`/`tracestate`/`X-Amzn-Trace-Id` headers and
 * Lambda's `_X_AMZN_TRACE_ID`; undefined when TRACE_PROPAGATION is off.
 */
export function traceOfEvent(event: HttpEventLike): TraceContext | undefined {
  return invocationTrace({
    traceparent: header(event, 'traceparent'),
    tracestate: header(event, 'tracestate'),
    xrayHeader: header(event, 'x-amzn-trace-id'),
    xrayEnv: process.env._X_AMZN_TRACE_ID,
  });
}
