/**
 * Hands the outgoing headers to the user's OpenTelemetry SDK when one runs.
 *
 * An SDK registers its propagator in @opentelemetry/api's global registry (a
 * well-known symbol on globalThis). Only when that registry holds a
 * propagator is the API loaded, by a dynamic import that esbuild keeps lazy in
 * the bundle; without an SDK the whole cost is one property read.
 */
import type { TraceContext } from './trace-context';

// The API keeps its globals under this symbol, one per major version (its global-utils).
const OTEL_GLOBAL = Symbol.for('opentelemetry.js.api.1');

const loadApi = () => import('./otel-api.js');
let api: ReturnType<typeof loadApi> | undefined;

/** True when an OpenTelemetry SDK registered a global propagator in this process. */
export function otelPropagatorRegistered(): boolean {
  const registry = (globalThis as Record<symbol, { propagation?: unknown } | undefined>)[OTEL_GLOBAL];
  return registry?.propagation !== undefined;
}

/**
 * Lets the registered propagator write into `headers` (it may replace ours, add `baggage`, or an
 * X-Ray header when the user configured the AWS X-Ray propagator). The active span, when the
 * user's instrumentation opened one, is the parent; otherwise the invocation's span from `t`.
 */
export async function injectWithOtel(headers: Record<string, string>, t: TraceContext): Promise<void> {
  const otel = await (api ??= loadApi());
  let ctx = otel.context.active();
  if (!otel.trace.getSpanContext(ctx)) {
    ctx = otel.trace.setSpanContext(ctx, {
      traceId: t.traceId,
      spanId: t.spanId,
      traceFlags: t.sampled ? otel.TraceFlags.SAMPLED : otel.TraceFlags.NONE,
      isRemote: false,
      ...(t.tracestate ? { traceState: otel.createTraceState(t.tracestate) } : {}),
    });
  }
  otel.propagation.inject(ctx, headers);
}
