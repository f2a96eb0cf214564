import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatTraceparent,
  parseTraceparent,
  parseXrayHeader,
  traceFromSources,
  traceHeaders,
  traceIdToXrayRoot,
  validTracestate,
  xrayRootToTraceId,
} from '../../../lib/tracing/trace-context';
import { traceOfEvent } from '../../../lib/http/trace-headers';
import { readInvocationEnvironment } from '../../../lib/config/environment';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const TP = `00-${TRACE}-${PARENT}-01`;
const XRAY_ROOT = '1-5759e988-bd862e3fe1be46a994272793';

describe('X-Ray ↔ W3C trace id', () => {
  it('joins the epoch and random parts, and splits them back', () => {
    assert.equal(xrayRootToTraceId(XRAY_ROOT), '5759e988bd862e3fe1be46a994272793');
    assert.equal(traceIdToXrayRoot('5759e988bd862e3fe1be46a994272793'), XRAY_ROOT);
  });
});

describe('parseTraceparent', () => {
  it('reads a version-00 value and its sampled flag', () => {
    assert.deepEqual(parseTraceparent(TP), { traceId: TRACE, parentId: PARENT, sampled: true });
    assert.equal(parseTraceparent(`00-${TRACE}-${PARENT}-00`)?.sampled, false);
  });
  it('accepts a later version with extra fields', () => {
    assert.equal(parseTraceparent(`01-${TRACE}-${PARENT}-01-extra`)?.traceId, TRACE);
  });
  for (const [why, value] of [
    ['version ff', `ff-${TRACE}-${PARENT}-01`],
    ['zero trace id', `00-${'0'.repeat(32)}-${PARENT}-01`],
    ['zero parent id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['upper-case hex', `00-${TRACE.toUpperCase()}-${PARENT}-01`],
    ['short trace id', `00-${TRACE.slice(1)}-${PARENT}-01`],
    ['version 00 with a fifth field', `${TP}-x`],
    ['an injected header', `${TP}\r\nx-evil: 1`],
    ['empty', ''],
    ['garbage', 'not-a-trace'],
    ['oversized', `${TP}${'-'.repeat(600)}`],
  ] as const) {
    it(`ignores ${why}`, () => assert.equal(parseTraceparent(value), undefined));
  }
});

describe('validTracestate', () => {
  it('keeps a well-formed list, trimmed', () => {
    assert.equal(validTracestate('rojo=00f067aa0ba902b7, congo=t61rcWkgMzE'), 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
    assert.equal(validTracestate('tenant@vendor=v'), 'tenant@vendor=v');
  });
  it('drops a malformed or oversized one', () => {
    assert.equal(validTracestate('Upper=1'), undefined);
    assert.equal(validTracestate('a=b=c'), undefined);
    assert.equal(validTracestate('a=\x01'), undefined);
    assert.equal(validTracestate(`a=${'x'.repeat(600)}`), undefined);
    assert.equal(validTracestate(Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')), undefined);
    assert.equal(validTracestate(''), undefined);
  });
});

describe('parseXrayHeader', () => {
  it('reads Root, Parent and Sampled in any order, and drops other fields', () => {
    assert.deepEqual(parseXrayHeader(`Sampled=1;Root=${XRAY_ROOT};Parent=53995c3f42cd8ad8;Lineage=a:1`), {
      root: XRAY_ROOT,
      parent: '53995c3f42cd8ad8',
      sampled: true,
    });
    assert.deepEqual(parseXrayHeader(`Root=${XRAY_ROOT}`), { root: XRAY_ROOT });
  });
  it('ignores a bad Parent or Sampled but keeps the Root', () => {
    assert.deepEqual(parseXrayHeader(`Root=${XRAY_ROOT};Parent=xyz;Sampled=?`), { root: XRAY_ROOT });
  });
  for (const value of [
    undefined,
    '',
    'Root=1-5759e988-short',
    'Parent=53995c3f42cd8ad8',
    `Root=2-5759e988-bd862e3fe1be46a994272793`,
    `Root=${XRAY_ROOT}${';x=y'.repeat(80)}`,
  ]) {
    it(`refuses ${JSON.stringify(value)?.slice(0, 40)}`, () => assert.equal(parseXrayHeader(value), undefined));
  }
});

describe('traceFromSources', () => {
  it('keeps the caller’s W3C trace id and tracestate, with a new span of its own', () => {
    const t = traceFromSources({ traceparent: TP, tracestate: 'rojo=1' });
    assert.equal(t.traceId, TRACE);
    assert.notEqual(t.spanId, PARENT);
    assert.match(t.spanId, /^[0-9a-f]{16}$/);
    assert.equal(t.sampled, true);
    assert.deepEqual(traceHeaders(t), { traceparent: `00-${TRACE}-${t.spanId}-01`, tracestate: 'rojo=1' });
  });
  it('derives the W3C id and sampling from X-Ray when no traceparent came, Lambda’s env before the header', () => {
    const t = traceFromSources({
      xrayEnv: `Root=${XRAY_ROOT};Parent=53995c3f42cd8ad8;Sampled=1`,
      xrayHeader: 'Root=1-00000001-000000000000000000000001',
    });
    assert.equal(t.traceId, '5759e988bd862e3fe1be46a994272793');
    assert.equal(t.sampled, true);
    assert.equal(traceHeaders(t)['x-amzn-trace-id'], `Root=${XRAY_ROOT};Parent=53995c3f42cd8ad8;Sampled=1`);
    assert.equal(formatTraceparent(t), `00-5759e988bd862e3fe1be46a994272793-${t.spanId}-01`);
  });
  it('uses the incoming X-Amzn-Trace-Id header without Lambda’s env (serverless-offline)', () => {
    const t = traceFromSources({ xrayHeader: `Root=${XRAY_ROOT};Sampled=0` });
    assert.equal(t.traceId, '5759e988bd862e3fe1be46a994272793');
    assert.equal(t.sampled, false);
  });
  it('never forwards a malformed traceparent, tracestate or X-Ray header', () => {
    const t = traceFromSources({ traceparent: `${TP}\nevil`, tracestate: 'rojo=1', xrayHeader: 'Root=evil;Sampled=1' });
    const h = traceHeaders(t);
    assert.deepEqual(Object.keys(h), ['traceparent']);
    assert.doesNotMatch(h.traceparent ?? '', new RegExp(TRACE));
  });
  it('starts a fresh random trace per invocation without any context', () => {
    const a = traceFromSources({});
    const b = traceFromSources({});
    assert.match(a.traceId, /^[0-9a-f]{32}$/);
    assert.notEqual(a.traceId, b.traceId);
    assert.equal(a.sampled, false);
  });
});

describe('TRACE_PROPAGATION and _X_AMZN_TRACE_ID (read per invocation)', () => {
  it('is on by default and off with false/off/0', () => {
    assert.equal(readInvocationEnvironment({}).tracePropagation, true);
    assert.equal(readInvocationEnvironment({ TRACE_PROPAGATION: 'true' }).tracePropagation, true);
    for (const v of ['false', 'OFF', ' 0 ']) {
      const inv = readInvocationEnvironment({ TRACE_PROPAGATION: v });
      assert.equal(inv.tracePropagation, false);
      assert.equal(traceOfEvent({ headers: { traceparent: TP } }, inv), undefined);
    }
  });

  it("takes Lambda's X-Ray header of this invocation, not of an earlier one", () => {
    const env: NodeJS.ProcessEnv = { _X_AMZN_TRACE_ID: `Root=${XRAY_ROOT};Sampled=1` };
    const first = traceOfEvent({}, readInvocationEnvironment(env));
    env._X_AMZN_TRACE_ID = 'Root=1-5759e989-000000000000000000000001;Sampled=0';
    const second = traceOfEvent({}, readInvocationEnvironment(env));
    assert.equal(first?.traceId, xrayRootToTraceId(XRAY_ROOT));
    assert.equal(second?.traceId, '5759e989000000000000000000000001');
    assert.equal(second?.xray, 'Root=1-5759e989-000000000000000000000001;Sampled=0');
    assert.equal(readInvocationEnvironment({}).xrayTraceId, undefined);
  });
});

describe('traceOfEvent', () => {
  const on = { tracePropagation: true } as const;
  it('finds the trace headers whatever their case, among many others', () => {
    const headers = { Host: 'h', 'User-Agent': 'curl', TraceParent: TP, TraceState: 'rojo=1', 'X-Forwarded-For': '203.0.113.7' };
    const t = traceOfEvent({ headers }, on);
    assert.equal(t?.traceId, TRACE);
    assert.equal(t?.tracestate, 'rojo=1');
    assert.equal(traceOfEvent({ headers: { 'X-Amzn-Trace-Id': `Root=${XRAY_ROOT}` } }, on)?.traceId, xrayRootToTraceId(XRAY_ROOT));
  });
  it("prefers the X-Ray header the runtime's InvokeStore holds for this invocation over _X_AMZN_TRACE_ID", () => {
    const g = globalThis as { awslambda?: { InvokeStore?: unknown } };
    const had = g.awslambda;
    g.awslambda = { InvokeStore: { hasContext: () => true, getXRayTraceId: () => `Root=${XRAY_ROOT};Sampled=1` } };
    try {
      const t = traceOfEvent({}, { tracePropagation: true, xrayTraceId: 'Root=1-5759e989-000000000000000000000001;Sampled=0' });
      assert.equal(t?.traceId, xrayRootToTraceId(XRAY_ROOT));
      assert.equal(t?.xray, `Root=${XRAY_ROOT};Sampled=1`);
    } finally {
      g.awslambda = had;
    }
  });
});
