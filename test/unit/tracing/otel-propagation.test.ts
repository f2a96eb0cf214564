import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { propagation, trace, type TextMapPropagator } from '@opentelemetry/api';
import { otelPropagatorRegistered } from '../../../lib/tracing/otel-propagation';
import { outgoingTraceHeaders } from '../../../lib/tracing/propagation';
import { traceFromSources } from '../../../lib/tracing/trace-context';

// A stand-in for a user's SDK propagator: writes what it sees of the active span context.
const seen: TextMapPropagator = {
  inject(ctx, carrier: Record<string, string>) {
    const sc = trace.getSpanContext(ctx);
    carrier['x-user-propagator'] = `${sc?.traceId}/${sc?.spanId}/${sc?.traceFlags}/${sc?.traceState?.serialize() ?? ''}`;
  },
  extract: (ctx) => ctx,
  fields: () => ['x-user-propagator'],
};

describe('OpenTelemetry propagation', () => {
  after(() => propagation.disable());

  it('stays on our own headers while no SDK registered a propagator', async () => {
    propagation.disable();
    assert.equal(otelPropagatorRegistered(), false);
    const t = traceFromSources({});
    assert.deepEqual(Object.keys(await outgoingTraceHeaders(t)), ['traceparent']);
  });

  it('lets a registered propagator write, with the invocation’s span as the context', async () => {
    assert.equal(propagation.setGlobalPropagator(seen), true);
    assert.equal(otelPropagatorRegistered(), true);
    const t = traceFromSources({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'rojo=1' });
    const h = await outgoingTraceHeaders(t);
    assert.equal(h['x-user-propagator'], `${t.traceId}/${t.spanId}/1/rojo=1`);
    assert.equal(h.traceparent, `00-${t.traceId}-${t.spanId}-01`);
  });
});
