// A user's OpenTelemetry SDK beside the packaged greet bundle, on the real Lambda runtime pieces (the
// Runtime Interface Emulator and the official Node runtime interface client), real Consul and a real
// Greeter. The SDK is loaded before the handler with NODE_OPTIONS=--require, as a layer's exec wrapper
// loads one, and registers a global propagator. The bundle leaves @opentelemetry/api out of its zip and
// requires it only then:
// - from a layer-like directory on NODE_PATH (/opt/nodejs/node_modules on Lambda): the SDK's propagator
//   writes the traceparent the Greeter receives;
// - when the bundle cannot resolve the API (the SDK loaded its copy from elsewhere): the call still
//   carries our own traceparent, and the runtime warns once.
// Both layouts: the default package (a CommonJS bundle its loader compiles with the V8 code cache, and
// requires through createRequire) and the plain ES module bundle (CODE_CACHE=0, the banner's require).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startLambdaRie, type LambdaRie } from '../../scripts/rie/lambda-rie';
import { packageFunctions, type PackageOutput } from '../../scripts/rie/package-functions';
import { ensureRic } from '../../scripts/rie/ric';
import { ensureRieBinary } from '../../scripts/rie/rie-binary';
import { seedDefaultConfig } from '../../scripts/stack/seed-config';
import { eventually, httpEvent, startTestStack, type TestStack } from './harness';

const PREFIX = 'config/greeter-gateway/local/';
const API = join(__dirname, '..', '..', 'node_modules', '@opentelemetry', 'api');
/** The parent span id the SDK's propagator writes, so the Greeter's log shows whose traceparent arrived. */
const SDK_SPAN = 'a1b2c3d4e5f60718';
const UNRESOLVED = /OTEL_API_UNRESOLVED/;

// The user's SDK: registers a propagator that keeps the trace id of the context it is given and writes its own span id.
const SDK = `const api = require(process.env.TEST_OTEL_API || '@opentelemetry/api');
api.propagation.setGlobalPropagator({
  inject(ctx, carrier, setter) {
    const sc = api.trace.getSpanContext(ctx);
    if (sc) setter.set(carrier, 'traceparent', '00-' + sc.traceId + '-${SDK_SPAN}-01');
  },
  extract: (ctx) => ctx,
  fields: () => ['traceparent'],
});
`;

type Line = Record<string, unknown>;
const packages = new Map<string, PackageOutput>();
let stack: TestStack | undefined;
let work: string;
const greeterLines: Line[] = [];
const started: LambdaRie[] = [];

before(async () => {
  ensureRieBinary((l) => console.error(l));
  ensureRic((l) => console.error(l));
  work = mkdtempSync(join(tmpdir(), 'bundle-otel-'));
  // The layer: its node_modules holds the SDK's copy of the API; the SDK itself is a file beside it.
  const layerModules = join(work, 'opt', 'nodejs', 'node_modules');
  mkdirSync(join(layerModules, '@opentelemetry'), { recursive: true });
  symlinkSync(API, join(layerModules, '@opentelemetry', 'api'), 'dir');
  writeFileSync(join(work, 'opt', 'sdk.cjs'), SDK);
  mkdirSync(join(work, 'empty'));
  const packaging = packageFunctions({ codeCache: true }).then(async (cached) => {
    packages.set('default', cached);
    packages.set('plain', await packageFunctions({ codeCache: false }));
  });
  stack = await startTestStack(PREFIX);
  await seedDefaultConfig(stack.admin, PREFIX);
  await stack.setConfig({ leaseEnabled: 'false' });
  await stack.addGreeter({
    id: 'otel-1',
    echo: (line) => {
      if (!line.startsWith('{')) return;
      try {
        greeterLines.push(JSON.parse(line) as Line);
      } catch {
        // Not a log line.
      }
    },
  });
  await packaging;
});

after(async () => {
  await Promise.allSettled(started.map((r) => r.stop()));
  for (const p of packages.values()) p.remove();
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** greet in the emulator with the SDK required first; `env` adds to (or, undefined, removes from) its environment. */
async function startGreet(layout: string, env: Record<string, string | undefined>, output: string[]): Promise<LambdaRie> {
  const fn = packages.get(layout)?.functions.get('greet');
  assert.ok(fn && stack, 'packaged greet and a stack');
  const nodeOptions = [fn.environment.NODE_OPTIONS, `--require ${join(work, 'opt', 'sdk.cjs')}`].filter(Boolean).join(' ');
  const rie = await startLambdaRie({
    fn,
    env: { CONSUL_HTTP_ADDR: stack.consul.address, CONSUL_HTTP_TOKEN: stack.gatewayToken, NODE_OPTIONS: nodeOptions, ...env },
    echo: (line) => output.push(line),
  });
  started.push(rie);
  return rie;
}

/** One greet with a fresh caller traceparent; the Greeter's log line of that trace once it arrives. */
async function greetTraced(rie: LambdaRie): Promise<Line> {
  const traceId = randomBytes(16).toString('hex');
  const inv = await rie.invoke(
    httpEvent('GET', { name: 'Ada', headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } }),
  );
  const answer = inv.payload as { statusCode?: number; body?: string };
  assert.equal(answer?.statusCode, 200, `greet answered ${inv.body}`);
  let line: Line | undefined;
  await eventually(
    () => (line = greeterLines.find((l) => l.msg === 'SayHello' && l.trace_id === traceId)) !== undefined,
    10_000,
    `the Greeter logs trace ${traceId}`,
  );
  return line as Line;
}

for (const [layout, title] of [
  ['default', 'the default package (code cache)'],
  ['plain', 'the plain ES module bundle'],
] as const) {
  describe(`a user OpenTelemetry SDK beside ${title}, in the Lambda emulator`, { timeout: 120_000 }, () => {
    it('requires the SDK’s @opentelemetry/api through NODE_PATH, and the SDK’s propagator writes the traceparent', async () => {
      const output: string[] = [];
      const rie = await startGreet(layout, { NODE_PATH: join(work, 'opt', 'nodejs', 'node_modules') }, output);
      for (let i = 0; i < 2; i++) assert.equal((await greetTraced(rie)).parent_id, SDK_SPAN, 'the SDK’s span id arrived');
      assert.doesNotMatch(output.join('\n'), UNRESOLVED);
    });

    it('sends our own traceparent when the bundle cannot resolve the API, and warns once', async () => {
      const output: string[] = [];
      // The SDK loads its API by a path the bundle cannot see; nothing on NODE_PATH holds one.
      const rie = await startGreet(layout, { NODE_PATH: join(work, 'empty'), TEST_OTEL_API: API }, output);
      const first = await greetTraced(rie);
      const second = await greetTraced(rie);
      for (const line of [first, second]) {
        assert.match(String(line.parent_id), /^[0-9a-f]{16}$/);
        assert.notEqual(line.parent_id, SDK_SPAN, 'our traceparent, not the SDK’s');
      }
      await eventually(() => output.some((l) => UNRESOLVED.test(l)), 10_000, 'the runtime warns that @opentelemetry/api is unresolved');
      assert.equal(
        output.filter((l) => UNRESOLVED.test(l)).length,
        1,
        `one warning:\n${output.filter((l) => UNRESOLVED.test(l)).join('\n')}`,
      );
    });
  });
}
