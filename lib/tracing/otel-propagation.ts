/**
 * Hands the outgoing headers to the user's OpenTelemetry SDK when one runs.
 *
 * An SDK registers its propagator in @opentelemetry/api's global registry (a well-known symbol on
 * globalThis). Only when that registry holds a propagator is the API loaded; without an SDK the whole
 * cost is one property read.
 *
 * The API is not in the bundles (serverless.yml `custom.esbuild.exclude`): the SDK that registered the
 * propagator brought its own copy, on Lambda from a layer (/opt/nodejs/node_modules, on NODE_PATH), and
 * that copy is loaded here. It is loaded with `require`, which honours NODE_PATH (the code-cache loader
 * gives the bundle a real one, and so does the banner of a plain ES module bundle), where an ES module
 * `import()` would not. When it cannot be resolved, our own headers still go out, without the SDK's,
 * and one process warning says why.
 */
import type * as OtelApi from '@opentelemetry/api';
import type { TraceContext } from './trace-context';

// The API keeps its globals under this symbol, one per major version (its global-utils).
const OTEL_GLOBAL = Symbol.for('opentelemetry.js.api.1');

/** The loaded API; null once it proved unresolvable (looked up once per process). */
let api: typeof OtelApi | null | undefined;

function loadApi(): typeof OtelApi | null {
  if (api !== undefined) return api;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- require resolves through NODE_PATH, import() does not (see above)
    api = require('@opentelemetry/api') as typeof OtelApi;
  } catch (err) {
    api = null;
    const why = (err as { code?: unknown }).code === 'MODULE_NOT_FOUND' ? 'not found' : String(err);
    process.emitWarning(
      `An OpenTelemetry propagator is registered, but @opentelemetry/api cannot be loaded (${why}): calls carry traceparent and x-amzn-trace-id without the SDK's headers. Put the SDK's node_modules on NODE_PATH (a layer's /opt/nodejs/node_modules is).`,
      { code: 'OTEL_API_UNRESOLVED' },
    );
  }
  return api;
}

/** True when an OpenTelemetry SDK registered a global propagator in this process. */
export function otelPropagatorRegistered(): boolean {
  const registry = (globalThis as Record<symbol, { propagation?: unknown } | undefined>)[OTEL_GLOBAL];
  return registry?.propagation !== undefined;
}

/**
 * Lets the registered propagator write into `headers` (it may replace ours, add `baggage`, or an
 * X-Ray header when the user configured the AWS X-Ray propagator). The active span, when the
 * user's instrumentation opened one, is the parent; otherwise the invocation's span from `t`.
 * Leaves `headers` as they are when the API cannot be loaded (warned once); never rejects for that.
 */
export async function injectWithOtel(headers: Record<string, string>, t: TraceContext): Promise<void> {
  const otel = loadApi();
  if (!otel) return;
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
