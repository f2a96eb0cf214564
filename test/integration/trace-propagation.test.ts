// One trace across the hop: the greet function in-process, real Consul, real Greeter processes.
// A slow instance makes grpc-js hedge, and both attempts must arrive with the invocation's trace.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { credentials, Metadata } from '@grpc/grpc-js';
import { handler as greetHandler, runtime } from '../../functions/greet';
import { GreeterClient } from '../../proto/gen/helloworld';
import { captureOutput, eventually, httpEvent, lambdaContext, startTestStack, type TestStack, useFunctionEnvironment } from './harness';

type Line = Record<string, unknown>;
let stack: TestStack;
const greeterLines = new Map<string, Line[]>();
const echoInto = (id: string) => (line: string) => {
  if (!line.startsWith('{')) return;
  try {
    greeterLines.get(id)?.push(JSON.parse(line) as Line);
  } catch {
    // Not a log line.
  }
};
const calls = (id: string, traceId: string) => (greeterLines.get(id) ?? []).filter((l) => l.msg === 'SayHello' && l.trace_id === traceId);
const xrayRoot = () =>
  `1-${Math.floor(Date.now() / 1000)
    .toString(16)
    .padStart(8, '0')}-${randomBytes(12).toString('hex')}`;

async function invoke(headers: Record<string, string> = {}) {
  const res = await greetHandler(httpEvent('GET', { name: 'Ada', headers }), lambdaContext());
  return { status: res.statusCode, body: JSON.parse(res.body ?? '{}') as { attempts?: number; servedBy?: { id: string } } };
}

before(async () => {
  stack = await startTestStack();
  for (const id of ['trace-slow', 'trace-fast']) greeterLines.set(id, []);
  await stack.addGreeter({ id: 'trace-slow', tags: ['trace'], latencyMs: 1_500, echo: echoInto('trace-slow') });
  await stack.addGreeter({ id: 'trace-fast', tags: ['trace'], echo: echoInto('trace-fast') });
  // One hedge after 100 ms: a first attempt on the slow instance is always hedged to the fast one.
  await stack.setConfig({
    greeterTag: 'trace',
    discoveryMinIntervalMs: '0',
    callDeadlineMs: '3000',
    maxAttempts: '2',
    hedgeMinDelayMs: '100',
    hedgeMaxDelayMs: '100',
    leaseEnabled: 'false',
  });
  useFunctionEnvironment(stack);
  runtime.reset();
});
after(async () => {
  delete process.env._X_AMZN_TRACE_ID;
  runtime.logger.setLogLevel('WARN');
  runtime.reset();
  await stack?.stop();
});
beforeEach(() => {
  delete process.env._X_AMZN_TRACE_ID;
  delete process.env.TRACE_PROPAGATION;
});

describe('trace context from the invocation to the Greeter', { timeout: 60_000 }, () => {
  it('reaches the Greeter on the first and the hedged attempt (Lambda _X_AMZN_TRACE_ID), and the gateway logs the same ids', async () => {
    runtime.logger.setLogLevel('DEBUG');
    try {
      let hedged: { root: string; traceId: string; lines: string[] } | undefined;
      // Round robin: within a few calls one lands first on the slow instance and is hedged.
      for (let i = 0; i < 8 && !hedged; i++) {
        const root = xrayRoot();
        process.env._X_AMZN_TRACE_ID = `Root=${root};Parent=53995c3f42cd8ad8;Sampled=1`;
        const { result, logLines } = await captureOutput(() => invoke());
        assert.equal(result.status, 200);
        if ((result.body.attempts ?? 0) > 1) hedged = { root, traceId: root.slice(2, 10) + root.slice(11), lines: logLines };
      }
      assert.ok(hedged, 'some call was hedged');
      const { root, traceId, lines } = hedged;
      // Both attempts arrive (the slow one logs on arrival, before its latency).
      await eventually(
        () => calls('trace-slow', traceId).length > 0 && calls('trace-fast', traceId).length > 0,
        5_000,
        'both Greeters to log the trace',
      );
      for (const id of ['trace-slow', 'trace-fast']) {
        const [line] = calls(id, traceId);
        assert.equal(line?.xray_trace_id, root, `${id} got the X-Ray root`);
        assert.match(String(line?.parent_id), /^[0-9a-f]{16}$/);
      }
      // Both attempts have the same parent: the gateway's span for this invocation.
      assert.equal(calls('trace-slow', traceId)[0]?.parent_id, calls('trace-fast', traceId)[0]?.parent_id);
      const gateway = lines.map((l) => JSON.parse(l) as Line).find((l) => l.message === 'greeted');
      assert.ok(gateway, `the gateway logged its debug line: ${lines.join('\n')}`);
      assert.equal(gateway.trace_id, traceId);
      assert.equal(gateway.xray_trace_id, root);
    } finally {
      runtime.logger.setLogLevel('WARN');
    }
  });

  it('carries the caller’s traceparent trace id (serverless-offline, API Gateway header)', async () => {
    const traceId = randomBytes(16).toString('hex');
    const r = await invoke({ traceparent: `00-${traceId}-00f067aa0ba902b7-01`, tracestate: 'rojo=00f067aa0ba902b7' });
    assert.equal(r.status, 200);
    const served = r.body.servedBy?.id ?? '';
    await eventually(() => calls(served, traceId).length > 0, 5_000, `${served} to log trace ${traceId}`);
    assert.notEqual(calls(served, traceId)[0]?.parent_id, '00f067aa0ba902b7', 'the gateway names its own span as parent');
  });

  it('derives the trace from an incoming X-Amzn-Trace-Id header without Lambda’s env', async () => {
    const root = xrayRoot();
    const r = await invoke({ 'X-Amzn-Trace-Id': `Root=${root};Sampled=1` });
    assert.equal(r.status, 200);
    const served = r.body.servedBy?.id ?? '';
    const traceId = root.slice(2, 10) + root.slice(11);
    await eventually(() => calls(served, traceId).length > 0, 5_000, `${served} to log trace ${traceId}`);
    assert.equal(calls(served, traceId)[0]?.xray_trace_id, root);
  });

  it('never forwards a malformed traceparent: the call gets a fresh trace instead', async () => {
    const bad = 'ab'.repeat(16);
    runtime.logger.setLogLevel('DEBUG');
    try {
      const { result: r, logLines } = await captureOutput(() => invoke({ traceparent: `00-${bad}-00f067aa0ba902b7-01-extra` }));
      assert.equal(r.status, 200);
      const fresh = String(logLines.map((l) => JSON.parse(l) as Line).find((l) => l.message === 'greeted')?.trace_id);
      assert.match(fresh, /^[0-9a-f]{32}$/);
      assert.notEqual(fresh, bad);
      const served = r.body.servedBy?.id ?? '';
      await eventually(() => calls(served, fresh).length > 0, 5_000, `${served} to log the fresh trace`);
      assert.equal(calls('trace-slow', bad).length + calls('trace-fast', bad).length, 0);
    } finally {
      runtime.logger.setLogLevel('WARN');
    }
  });

  it('sends no trace context with TRACE_PROPAGATION=false', async () => {
    process.env.TRACE_PROPAGATION = 'false';
    const traceId = randomBytes(16).toString('hex');
    const r = await invoke({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    delete process.env.TRACE_PROPAGATION;
    assert.equal(r.status, 200);
    // A later traced call on the same instance shows its log is flowing (lines arrive in order).
    const served = r.body.servedBy?.id ?? '';
    let reached = false;
    for (let i = 0; i < 6 && !reached; i++) {
      const marker = randomBytes(16).toString('hex');
      const m = await invoke({ traceparent: `00-${marker}-00f067aa0ba902b7-01` });
      await eventually(() => calls(m.body.servedBy?.id ?? '', marker).length > 0, 5_000, 'the marker call');
      reached = m.body.servedBy?.id === served;
    }
    assert.ok(reached, `a traced call reached ${served}`);
    assert.equal(calls(served, traceId).length, 0);
  });

  it('the Greeter reflects the trace id it received when asked (x-reflect-trace)', async () => {
    const fast = stack.greeters.find((g) => g.id === 'trace-fast');
    assert.ok(fast);
    const client = new GreeterClient(`127.0.0.1:${fast.port}`, credentials.createInsecure());
    try {
      const traceId = randomBytes(16).toString('hex');
      const ask = async (reflect: boolean) => {
        const md = new Metadata();
        md.set('traceparent', `00-${traceId}-00f067aa0ba902b7-01`);
        if (reflect) md.set('x-reflect-trace', '1');
        return new Promise<Metadata>((resolve, reject) => {
          const call = client.sayHello({ name: 'Ada' }, md, { deadline: Date.now() + 5_000 }, (err) => err && reject(err));
          call.on('metadata', resolve);
        });
      };
      assert.deepEqual((await ask(true)).get('x-trace-id'), [traceId]);
      assert.deepEqual((await ask(false)).get('x-trace-id'), []);
    } finally {
      client.close();
    }
  });
});
