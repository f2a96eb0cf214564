/**
 * The few @opentelemetry/api exports propagation needs, behind one module that otel-propagation.ts
 * imports dynamically: esbuild then bundles only these (not the package's whole namespace) and runs
 * them only when an SDK is registered.
 */
export { context, createTraceState, propagation, trace, TraceFlags } from '@opentelemetry/api';
