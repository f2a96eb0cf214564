/** The trace context an HTTP invocation arrived with (see lib/tracing/trace-context.ts). */
import { readInvocationEnvironment, type InvocationEnvironment } from '../runtime/invocation';
import { traceFromSources, type TraceContext, type TraceSources } from '../tracing/trace-context';
import type { HttpEventLike } from './event';

/** The RIC's per-invocation store (@aws/lambda-invoke-store), for the one call we make of it. */
interface InvokeStoreLike {
  hasContext(): boolean;
  getXRayTraceId(): string | undefined;
}

/**
 * Lambda's X-Ray header for this invocation: the RIC's InvokeStore holds it per invocation (the only
 * place it is right when invocations run concurrently in one environment); else `_X_AMZN_TRACE_ID`.
 */
function xrayOfInvocation(inv: InvocationEnvironment): string | undefined {
  const store = (globalThis as { awslambda?: { InvokeStore?: InvokeStoreLike } }).awslambda?.InvokeStore;
  return (store?.hasContext() ? store.getXRayTraceId() : undefined) ?? inv.xrayTraceId;
}

/**
 * The caller's trace headers, found in one pass over the event's headers whatever their case (API
 * Gateway's HTTP API lower-cases them, REST APIs and serverless-offline may not): only names as long
 * as one of ours are lower-cased, so an event with many headers costs a length check for most.
 */
function traceSources(event: HttpEventLike, xrayEnv: string | undefined): TraceSources {
  const s: TraceSources = {};
  if (xrayEnv !== undefined) s.xrayEnv = xrayEnv;
  const headers = event.headers;
  if (!headers) return s;
  for (const name in headers) {
    const n = name.length;
    if (n !== 11 && n !== 10 && n !== 15) continue;
    const value = headers[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    // The first of a name wins, as a lookup by name would.
    if (lower === 'traceparent') s.traceparent ??= value;
    else if (lower === 'tracestate') s.tracestate ??= value;
    else if (lower === 'x-amzn-trace-id') s.xrayHeader ??= value;
  }
  return s;
}

/**
 * The invocation's trace from the caller's `traceparent`/`tracestate`/`X-Amzn-Trace-Id` headers and
 * Lambda's X-Ray header (read for this invocation, as Lambda changes it for each); undefined when
 * TRACE_PROPAGATION is off.
 */
export function traceOfEvent(event: HttpEventLike, inv: InvocationEnvironment = readInvocationEnvironment()): TraceContext | undefined {
  if (!inv.tracePropagation) return undefined;
  return traceFromSources(traceSources(event, xrayOfInvocation(inv)));
}
