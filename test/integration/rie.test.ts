// The packaged bundles (serverless package → zip) on the real Lambda runtime pieces: the
// AWS Lambda Runtime Interface Emulator and the official Node runtime interface client,
// against real Consul (ACLs on), real Greeter backends and moto as Cloud Map, on the pinned Node of
// the functions' runtime started with Lambda's flags. The default package (a loader module beside the
// CommonJS bundle and its V8 code cache, scripts/esbuild/code-cache.cjs), and greet packaged as the
// plain ES module bundle (CODE_CACHE=0), which the runtime client loads alike.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { CreateHttpNamespaceCommand, GetOperationCommand } from '@aws-sdk/client-servicediscovery';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { createCloudMapClient } from '../../lib/cloudmap/cloudmap-client';
import type { HealthSyncReport } from '../../lib/health-sync/health-sync';
import { HEALTH_SYNC_KEYS } from '../../lib/health-sync/health-sync-config';
import { REGISTRY_KEYS } from '../../lib/registry/registry-config';
import { startLambdaRie, type LambdaRie, type LambdaRieOptions, type RieInvocation } from '../../scripts/rie/lambda-rie';
import { bundleCodePath, bundlePath, packageFunctions, type PackageOutput } from '../../scripts/rie/package-functions';
import { extractZip } from '../../scripts/rie/zip';
import { eventFor, FUNCTIONS_WITH_DEFAULTS } from '../../scripts/rie/events';
import { ensureRic } from '../../scripts/rie/ric';
import { ensureRieBinary } from '../../scripts/rie/rie-binary';
import { startMoto, type MotoServer } from '../../scripts/stack/moto';
import { seedDefaultConfig } from '../../scripts/stack/seed-config';
import * as tokens from '../../scripts/stack/tokens';
import { processAlive } from '../../scripts/support/process-alive';
import { eventually, httpEvent, passingIds, startTestStack, type TestStack } from './harness';

// The prefixes the packaged template names for stage "local".
const GATEWAY_PREFIX = 'config/greeter-gateway/local/';
const REGISTRY_PREFIX = 'config/instance-registry/local/';
const HS_PREFIX = 'config/health-sync/local/';
const STACK_TRACE = /\n\s+at |\.ts:\d+|node_modules/;

let pkg: PackageOutput | undefined;
let plainPkg: PackageOutput | undefined;
let stack: TestStack;
let moto: MotoServer | undefined;
let registryToken: string;
let syncToken: string;
const signingKey = randomBytes(32).toString('hex');
const started: LambdaRie[] = [];
const running = new Map<string, LambdaRie>();

before(async () => {
  // A first run builds the emulator and installs the runtime client (once per machine).
  ensureRieBinary((l) => console.error(l));
  ensureRic((l) => console.error(l));
  const packaging = packageFunctions({ env: { LOG_LEVEL: 'INFO' }, codeCache: true });
  const plainPackaging = packaging.then(() => packageFunctions({ env: { LOG_LEVEL: 'INFO' }, codeCache: false }));
  stack = await startTestStack(GATEWAY_PREFIX);
  moto = await startMoto();
  await seedDefaultConfig(stack.admin, GATEWAY_PREFIX);
  await seedDefaultConfig(stack.admin, REGISTRY_PREFIX, REGISTRY_KEYS, {
    allowedServicePrefixes: 'ephemeral-',
    allowedCidrs: '10.0.0.0/8,127.0.0.0/8',
    allowLoopback: 'true',
  });
  const cm = createCloudMapClient({ region: 'us-east-1', endpoint: moto.endpoint });
  const op = await cm.send(new CreateHttpNamespaceCommand({ Name: `rie-${randomBytes(3).toString('hex')}` }));
  const namespaceId = (await cm.send(new GetOperationCommand({ OperationId: op.OperationId }))).Operation?.Targets?.NAMESPACE ?? '';
  cm.destroy();
  await seedDefaultConfig(stack.admin, HS_PREFIX, HEALTH_SYNC_KEYS, {
    services: 'greeter',
    successesBeforePassing: '1',
    probeTimeoutMs: '500',
    cloudMapNamespaceId: namespaceId,
    cloudMapEndpoint: moto.endpoint,
    cloudMapRegion: 'us-east-1',
  });
  registryToken = await tokens.registryToken(stack.admin, REGISTRY_PREFIX);
  syncToken = await tokens.healthSyncToken(stack.admin, HS_PREFIX);
  for (const id of ['rie-1', 'rie-2']) await stack.addGreeter({ id });
  pkg = await packaging;
  plainPkg = await plainPackaging;
});

after(async () => {
  await Promise.allSettled(started.map((r) => r.stop()));
  pkg?.remove();
  plainPkg?.remove();
  await moto?.stop();
  await stack?.stop();
});

/** The environment each function gets besides its packaged one: where Consul is, its token and keys. */
function secretsFor(name: string): Record<string, string> {
  const base = { CONSUL_HTTP_ADDR: stack.consul.address };
  if (name === 'instances') return { ...base, CONSUL_HTTP_TOKEN: registryToken, REGISTRY_SIGNING_KEY: signingKey };
  if (name === 'healthSync') return { ...base, CONSUL_HTTP_TOKEN: syncToken };
  return { ...base, CONSUL_HTTP_TOKEN: stack.gatewayToken };
}

async function start(name: string, opts: Partial<LambdaRieOptions> = {}, from = pkg): Promise<LambdaRie> {
  const fn = from?.functions.get(name);
  assert.ok(fn, `packaged function ${name}`);
  const rie = await startLambdaRie({ fn, ...opts, env: { ...secretsFor(name), ...opts.env } });
  started.push(rie);
  return rie;
}

/** The shared emulator of `name` (started on first use, so each test can also run alone). */
async function shared(name: string): Promise<LambdaRie> {
  let rie = running.get(name);
  if (!rie) {
    rie = await start(name);
    running.set(name, rie);
  }
  return rie;
}

/** An API Gateway REST (payload v1) event, as the `http` events of status and instances get. */
function restEvent(
  method: string,
  resource: string,
  o: { body?: string; headers?: Record<string, string>; query?: Record<string, string>; pathParameters?: Record<string, string> } = {},
) {
  return {
    resource,
    path: resource,
    httpMethod: method,
    headers: o.headers ?? {},
    queryStringParameters: o.query ?? null,
    pathParameters: o.pathParameters ?? null,
    body: o.body ?? null,
    isBase64Encoded: false,
    requestContext: { identity: { apiKeyId: 'rie-test-key', sourceIp: '127.0.0.1' }, stage: 'local' },
  };
}

interface HttpAnswer {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
}
/** The handler's HTTP answer and its parsed JSON body. */
function answer(inv: RieInvocation): HttpAnswer & { json: Record<string, unknown> } {
  assert.equal(inv.status, 200, `Invoke API status; body: ${inv.body}`);
  const a = inv.payload as HttpAnswer;
  assert.equal(typeof a?.statusCode, 'number', `an HTTP answer, got ${inv.body}`);
  return { ...a, json: a.body ? (JSON.parse(a.body) as Record<string, unknown>) : {} };
}

function assertCold(inv: RieInvocation): void {
  assert.equal(typeof inv.report.initDurationMs, 'number', `cold REPORT has Init Duration: ${inv.report.line}`);
  assert.ok((inv.runtimeInitMs ?? 0) > 0, 'the emulator reported the init phase');
  assert.ok(inv.runtimePid, 'a runtime process');
}
function assertWarm(inv: RieInvocation, cold: RieInvocation): void {
  assert.equal(inv.report.initDurationMs, undefined, `warm REPORT has no Init Duration: ${inv.report.line}`);
  assert.equal(inv.runtimeInitMs, undefined, 'no init phase');
  assert.equal(inv.runtimePid, cold.runtimePid, 'the same runtime process');
}
function describeRun(t: TestContext, name: string, cold: RieInvocation, warm: RieInvocation): void {
  t.diagnostic(
    `${name}: REPORT cold "Init Duration: ${cold.report.initDurationMs} ms, Duration: ${cold.report.durationMs} ms", warm "Duration: ${warm.report.durationMs} ms"; ` +
      `runtime init (INIT REPORT) ${cold.runtimeInitMs} ms; Memory Size ${cold.report.memorySizeMb} MB, REPORT Max Memory Used ${warm.report.maxMemoryUsedMb} MB, real peak RSS ${warm.peakRssMb} MB`,
  );
}

/** Services registered on the agent (management token), by id. */
async function agentServices(): Promise<Record<string, { Service: string; Meta: Record<string, string> }>> {
  const res = await fetch(`http://${stack.consul.address}/v1/agent/services`, {
    headers: { 'x-consul-token': stack.consul.managementToken },
    signal: AbortSignal.timeout(5_000),
  });
  assert.equal(res.status, 200);
  return (await res.json()) as Record<string, { Service: string; Meta: Record<string, string> }>;
}

let scratchDir: string | undefined;
/** A private temp dir of this file, removed after the tests. */
function scratch(): string {
  scratchDir ??= mkdtempSync(join(tmpdir(), 'rie-test-'));
  return scratchDir;
}
after(() => {
  if (scratchDir) rmSync(scratchDir, { recursive: true, force: true });
});

describe('packaged bundles in the Lambda Runtime Interface Emulator', () => {
  it('greet: a cold then warm invocations in one runtime, answered by discovered backends', async (t) => {
    const rie = await shared('greet');
    const cold = await rie.invoke(httpEvent('GET', { name: 'Ada' }));
    const a = answer(cold);
    assert.equal(a.statusCode, 200, a.body);
    assert.match(String(a.json.message), /^Hello, Ada! \(from rie-\d\)$/);
    assert.match((a.json.servedBy as { id: string }).id, /^rie-[12]$/);
    assertCold(cold);
    const warm = await rie.invoke(httpEvent('POST', { body: '{"name":"Grace"}' }));
    const b = answer(warm);
    assert.equal(b.statusCode, 200, b.body);
    assert.match(String(b.json.message), /^Hello, Grace!/);
    assertWarm(warm, cold);
    // One channel, round robin over both backends, across warm invocations of one runtime.
    const servedBy = new Set<string>();
    for (let i = 0; i < 10 && servedBy.size < 2; i++)
      servedBy.add((answer(await rie.invoke(httpEvent('GET', { name: `n${i}` }))).json.servedBy as { id: string }).id);
    assert.deepEqual([...servedBy].sort(), ['rie-1', 'rie-2']);
    describeRun(t, 'greet', cold, warm);
  });

  it("greet takes the V8 code cache it was packaged with: V8 accepts it under Lambda's flags, cold then warm", async (t) => {
    const fn = pkg?.functions.get('greet');
    assert.ok(fn, 'greet packaged');
    const dir = join(scratch(), 'greet-code-cache');
    extractZip(fn.zip, dir);
    assert.notEqual(bundleCodePath(fn, dir), bundlePath(fn, dir), 'the handler module is the loader beside the bundle');
    const rie = await start('greet', { env: { COLD_START_TRACE: '1' } });
    const cold = await rie.invoke(httpEvent('GET', { name: 'Ada' }));
    const a = answer(cold);
    assert.equal(a.statusCode, 200, a.body);
    assertCold(cold);
    const trace = cold.logs.find((l) => l.includes('"cold start trace"'));
    assert.ok(trace, `a cold start trace line in:\n${cold.logs.join('\n')}`);
    assert.equal((JSON.parse(trace) as { coldStart: { codeCache?: string } }).coldStart.codeCache, 'used');
    const warm = await rie.invoke(httpEvent('GET', { name: 'Grace' }));
    assert.equal(answer(warm).statusCode, 200);
    assertWarm(warm, cold);
    describeRun(t, 'greet (code cache, traced)', cold, warm);
  });

  it('greet packaged with CODE_CACHE=0: the plain ES module bundle loads alike, cold then warm', async (t) => {
    const fn = plainPkg?.functions.get('greet');
    assert.ok(fn, 'greet packaged with CODE_CACHE=0');
    const dir = join(scratch(), 'greet-plain');
    extractZip(fn.zip, dir);
    assert.equal(bundleCodePath(fn, dir), bundlePath(fn, dir), 'the handler module is the bundle');
    const rie = await start('greet', {}, plainPkg);
    const cold = await rie.invoke(httpEvent('GET', { name: 'Ada' }));
    const a = answer(cold);
    assert.equal(a.statusCode, 200, a.body);
    assert.match(String(a.json.message), /^Hello, Ada! \(from rie-\d\)$/);
    assertCold(cold);
    const warm = await rie.invoke(httpEvent('GET', { name: 'Grace' }));
    assert.equal(answer(warm).statusCode, 200);
    assertWarm(warm, cold);
    describeRun(t, 'greet (plain bundle)', cold, warm);
  });

  it("greet reads its Consul token from an SSM SecureString through the runtime's SDK (NODE_PATH), not the zip", async () => {
    assert.ok(moto);
    const name = `/consul-grpc-lambda/rie-${randomBytes(3).toString('hex')}/consul-token/greeter-gateway`;
    const aws = {
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_SSM: moto.endpoint,
    };
    const ssm = new SSMClient({
      region: aws.AWS_REGION,
      endpoint: moto.endpoint,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    await ssm.send(new PutParameterCommand({ Name: name, Value: stack.gatewayToken, Type: 'SecureString' }));
    ssm.destroy();
    // No token in the environment, no Parameters and Secrets extension: the SDK reads the parameter.
    const rie = await start('greet', { env: { ...aws, CONSUL_HTTP_TOKEN: '', CONSUL_HTTP_TOKEN_PARAMETER: name } });
    const a = answer(await rie.invoke(httpEvent('GET', { name: 'Ada' })));
    assert.equal(a.statusCode, 200, a.body);
    assert.match(String(a.json.message), /^Hello, Ada!/);
  });

  it('greet: bad input is a JSON error with the right status, never a stack trace or the token', async () => {
    const rie = await shared('greet');
    const cases: [unknown, number, string][] = [
      [httpEvent('GET', { name: 'x'.repeat(129) }), 400, 'INVALID_INPUT'],
      [httpEvent('GET', { name: 'a\u0007b' }), 400, 'INVALID_INPUT'],
      [httpEvent('GET', { name: '\u200b' }), 400, 'INVALID_INPUT'],
      [httpEvent('POST', { body: '{"name":' }), 400, 'INVALID_INPUT'],
      [httpEvent('POST', { body: '{"name":""}' }), 400, 'INVALID_INPUT'],
      [httpEvent('POST', { body: '{"name":"a","extra":1}' }), 400, 'INVALID_INPUT'],
      [httpEvent('POST', { body: '["Ada"]' }), 400, 'INVALID_INPUT'],
      [httpEvent('POST', { body: 'name=Ada', headers: { 'content-type': 'text/plain' } }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [httpEvent('POST', { body: JSON.stringify({ name: 'a'.repeat(40_000) }) }), 413, 'PAYLOAD_TOO_LARGE'],
    ];
    for (const [event, status, code] of cases) {
      const inv = await rie.invoke(event);
      const r = answer(inv);
      assert.equal(r.statusCode, status, r.body);
      assert.equal((r.json.error as { code: string }).code, code, r.body);
      assert.equal(r.headers?.['content-type'], 'application/json; charset=utf-8');
      assert.doesNotMatch(r.body ?? '', STACK_TRACE);
      assert.equal(inv.report.initDurationMs, undefined, 'still the warm runtime');
    }
    assert.equal(rie.process.output.join('\n').includes(stack.gatewayToken), false, 'the token is in no log line');
  });

  it('status: config sources with the token redacted; a warm invocation keeps the same lease', async (t) => {
    const rie = await shared('status');
    const cold = await rie.invoke(restEvent('GET', '/status'));
    const a = answer(cold);
    assert.equal(a.statusCode, 200, a.body);
    const cfg = a.json.config as Record<string, { value: unknown; source: string }>;
    assert.deepEqual(cfg.maxAttempts, { value: 3, source: 'kv' });
    assert.deepEqual(cfg.consulToken, { value: '[redacted]', source: 'env' });
    assert.deepEqual(cfg.configPrefix, { value: GATEWAY_PREFIX, source: 'env' });
    assert.match(String(a.json.configIndex), /^\d+$/);
    assert.equal(a.body?.includes(stack.gatewayToken), false);
    const lease = a.json.lease as { id: string; registered: boolean };
    assert.match(lease.id, /^greeter-gateway-lambda-[0-9a-f]{16}$/);
    assert.equal(lease.registered, true);
    // The lease describes this execution environment with Lambda's variables.
    const svc = (await agentServices())[lease.id];
    assert.equal(svc?.Meta.function, rie.fn.functionName);
    assert.equal(svc?.Meta.log_stream, rie.logStreamName);
    assert.equal(svc?.Meta.memory_mb, String(rie.fn.memorySize));
    assertCold(cold);

    const warm = await rie.invoke(restEvent('GET', '/status'));
    const b = answer(warm);
    assert.equal(b.statusCode, 200, b.body);
    assert.equal((b.json.lease as { id: string }).id, lease.id, 'the same lease: the same execution environment');
    assert.equal(b.json.environmentStartedAt, a.json.environmentStartedAt);
    assertWarm(warm, cold);
    describeRun(t, 'status', cold, warm);
  });

  it('instances: POST registers, GET lists, a bad registration is a 400', async (t) => {
    const rie = await shared('instances');
    const post = (body: unknown) =>
      rie.invoke(restEvent('POST', '/instances', { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }));
    const cold = await post({ service: 'ephemeral-job', address: '10.1.2.3', port: 8080, tags: ['batch'], ttl: '60s' });
    const created = answer(cold);
    assert.equal(created.statusCode, 201, created.body);
    const { id, leaseToken } = created.json as { id: string; leaseToken: string };
    assert.match(id, /^ephemeral-job-[0-9a-f]{16}$/);
    assert.match(leaseToken, /^v1\./);
    assertCold(cold);

    const warm = await rie.invoke(restEvent('GET', '/instances', { query: { service: 'ephemeral-job' } }));
    const list = answer(warm);
    assert.equal(list.statusCode, 200, list.body);
    const mine = (list.json.instances as { id: string; status: string; tags: string[] }[]).find((i) => i.id === id);
    assert.equal(mine?.status, 'passing');
    assert.deepEqual(mine?.tags, ['batch']);
    assertWarm(warm, cold);

    const bad = answer(await post({ service: 'billing', address: '10.1.2.3', port: 8080 }));
    assert.equal(bad.statusCode, 400, bad.body);
    assert.equal((bad.json.error as { code: string }).code, 'INVALID_INPUT');
    assert.doesNotMatch(bad.body ?? '', STACK_TRACE);
    const log = rie.process.output.join('\n');
    assert.equal(log.includes(signingKey) || log.includes(registryToken), false, 'no secret in the logs');
    describeRun(t, 'instances', cold, warm);
  });

  it('healthSync: a dry run reports the plan and changes nothing; the next run records the probe', async (t) => {
    // A workload without an agent: registered through the registry with a gRPC check, critical until probed.
    const backend = await stack.addGreeterUnregistered({ id: 'rie-probed' });
    const reg = answer(
      await (
        await shared('instances')
      ).invoke(
        restEvent('POST', '/instances', {
          body: JSON.stringify({
            service: 'ephemeral-probe',
            address: '127.0.0.1',
            port: backend.port,
            check: { type: 'grpc', service: '' },
          }),
          headers: { 'content-type': 'application/json' },
        }),
      ),
    );
    assert.equal(reg.statusCode, 201, reg.body);
    const probedId = String(reg.json.id);
    assert.deepEqual(await passingIds(stack.admin, 'ephemeral-probe'), []);

    const rie = await shared('healthSync');
    const cold = await rie.invoke({ dryRun: true });
    assert.equal(cold.status, 200, cold.body);
    const dry = cold.payload as HealthSyncReport;
    assert.equal(dry.dryRun, true, cold.body);
    assert.equal(dry.skipped, undefined);
    assert.deepEqual(
      dry.probes.filter((p) => p.id === probedId).map((p) => [p.ok, p.status]),
      [[true, 'passing']],
    );
    const planned = dry.plan.flatMap((a) => (a.kind === 'registerInstance' ? [a.instanceId] : []));
    assert.deepEqual(planned.sort(), ['rie-1', 'rie-2'], 'both Greeters would be mirrored into Cloud Map');
    const writes = Object.entries(dry.cloudMap?.calls ?? {}).filter(([k, v]) => /^(Create|Register|Deregister|Update)/.test(k) && v > 0);
    assert.deepEqual(writes, [], 'a dry run writes nothing to Cloud Map');
    assert.deepEqual(await passingIds(stack.admin, 'ephemeral-probe'), [], 'nor to Consul');
    assertCold(cold);

    const warm = await rie.invoke({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} });
    const run = warm.payload as HealthSyncReport;
    assert.equal(run.dryRun, false, warm.body);
    assert.deepEqual(run.cloudMap?.errors, []);
    assert.equal(run.cloudMap?.registered, 2);
    await eventually(
      async () => (await passingIds(stack.admin, 'ephemeral-probe')).includes(probedId),
      5_000,
      'the probed instance to pass in Consul',
    );
    assertWarm(warm, cold);
    describeRun(t, 'healthSync', cold, warm);
  });

  it('npm run invoke:rie events: the default of each function answers 2xx, and the --data requests of its help reach their routes', async () => {
    for (const name of FUNCTIONS_WITH_DEFAULTS) {
      const inv = await (await shared(name)).invoke(eventFor(name, undefined));
      assert.equal(inv.status, 200, `${name}: ${inv.body}`);
      const p = inv.payload as { statusCode?: number; errorType?: string };
      assert.equal(p.errorType, undefined, `${name}: ${inv.body}`);
      if (typeof p.statusCode === 'number') assert.ok(p.statusCode >= 200 && p.statusCode < 300, `${name}: ${inv.body}`);
    }
    const greet = answer(
      await (await shared('greet')).invoke(eventFor('greet', '{"method":"POST","path":"/greet","body":{"name":"Grace"}}')),
    );
    assert.equal(greet.statusCode, 200, greet.body);
    assert.match(String(greet.json.message), /^Hello, Grace!/);
    const instances = await shared('instances');
    const created = answer(
      await instances.invoke(
        eventFor('instances', '{"method":"POST","path":"/instances","body":{"service":"ephemeral-job","address":"10.0.0.7","port":8080}}'),
      ),
    );
    assert.equal(created.statusCode, 201, created.body);
    // A path parameter and the REST resource come from the route: a DELETE without the lease token is refused, not a 405.
    const del = answer(
      await instances.invoke(eventFor('instances', JSON.stringify({ method: 'DELETE', path: `/instances/${String(created.json.id)}` }))),
    );
    assert.notEqual(del.statusCode, 405, del.body);
    assert.ok(del.statusCode >= 400 && del.statusCode < 500, del.body);
  });

  it('SIGTERM at shutdown releases the lease: the emulator sends it once an extension is registered', async () => {
    const rie = await shared('status');
    const r = answer(await rie.invoke(restEvent('GET', '/status')));
    const leaseId = (r.json.lease as { id: string }).id;
    const pid = rie.runtimePid();
    assert.ok(pid && leaseId in (await agentServices()), 'the lease is registered');
    // The emulator's own SIGTERM handling: SIGTERM to the runtime, SIGKILL 600 ms later.
    await rie.stop();
    running.delete('status');
    assert.equal(processAlive(pid), false, 'the runtime is gone');
    assert.match(rie.process.output.join('\n'), /Internal agent consul-grpc-lambda-sigterm \(.*\) registered/);
    // Released by the function itself: Consul alone would reap it only after TTL (30 s) + 60 s.
    await eventually(async () => !(leaseId in (await agentServices())), 3_000, 'the lease to be released on SIGTERM');
  });

  it('SIGTERM at shutdown writes the metrics still buffered: the last greets reach CloudWatch', async () => {
    const rie = await start('greet');
    const greetLatencies = () =>
      rie.process.output
        .filter((l) => l.includes('"_aws"') && l.includes('"GreetLatency"'))
        .flatMap((l) => [(JSON.parse(l.slice(l.indexOf('{'))) as { GreetLatency: number | number[] }).GreetLatency].flat());
    for (const name of ['Ada', 'Grace', 'Hopper']) {
      const r = answer(await rie.invoke(eventFor('greet', JSON.stringify({ method: 'POST', path: '/greet', body: { name } }))));
      assert.equal(r.statusCode, 200, r.body);
    }
    // The cold start's line went out at once; the warm greets wait for the 10 s interval.
    const before = greetLatencies().length;
    assert.ok(before >= 1 && before < 3, `the cold start published, the warm greets are still buffered (${before} values out)`);
    await rie.stop();
    assert.equal(greetLatencies().length, 3, 'one GreetLatency value per greet, the buffered ones written on SIGTERM');
  });

  it('without an extension the emulator SIGKILLs the runtime and the lease stays (as Lambda does)', async () => {
    const rie = await start('status', { sigtermExtension: false });
    const r = answer(await rie.invoke(restEvent('GET', '/status')));
    const leaseId = (r.json.lease as { id: string }).id;
    const pid = rie.runtimePid();
    assert.ok(pid && leaseId in (await agentServices()));
    await rie.stop();
    assert.equal(processAlive(pid), false, 'the runtime is gone');
    assert.match(rie.process.output.join('\n'), /Sending SIGKILL to runtime/);
    try {
      assert.equal(leaseId in (await agentServices()), true, 'nobody released the lease: it waits for its TTL');
    } finally {
      await fetch(`http://${stack.consul.address}/v1/agent/service/deregister/${leaseId}`, {
        method: 'PUT',
        headers: { 'x-consul-token': stack.consul.managementToken },
      });
    }
  });
});
