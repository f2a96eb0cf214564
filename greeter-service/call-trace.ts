/** The trace context a Greeter call arrived with, validated as the gateway validates it. */
import type { Metadata } from '@grpc/grpc-js';
import { parseTraceparent, parseXrayHeader, xrayRootToTraceId } from '../lib/tracing/trace-context';

/** What the Greeter logs of a traced call (ids only, never the raw header text). */
export interface CallTrace {
  /** W3C trace id (from traceparent, else from the X-Ray root). */
  traceId?: string;
  /** The caller's span (the gateway's), the parent of this call. */
  parentId?: string;
  /** X-Ray root (`1-…-…`). */
  xrayTraceId?: string;
}

const first = (md: Metadata, key: string): string | undefined => {
  const v = md.get(key)[0];
  return typeof v === 'string' ? v : undefined;
};

/** The call's trace ids, or undefined when it carried none (or only malformed ones). */
export function callTrace(md: Metadata): CallTrace | undefined {
  const w3c = parseTraceparent(first(md, 'traceparent'));
  const xray = parseXrayHeader(first(md, 'x-amzn-trace-id'));
  if (w3c) {
    const t: CallTrace = { traceId: w3c.traceId, parentId: w3c.parentId };
    if (xray) t.xrayTraceId = xray.root;
    return t;
  }
  return xray ? { traceId: xrayRootToTraceId(xray.root), xrayTraceId: xray.root } : undefined;
}
