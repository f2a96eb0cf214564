// Issue 17 on the real agent: Idempotency-Keys hold under 50 parallel requests per key, and
// per-API-key quotas hold under 50 parallel requests (no overshoot). The `instances` handler runs
// in-process, as Lambda runs it, with the registry's least-privilege token against a real Consul
// dev agent with ACLs; the requests run truly in parallel at Consul.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { handler, instancesHandler, runtime } from '../../functions/instances';
import { createRegistryRuntime } from '../../lib/registry/registry-runtime';
import { runtimeSlot } from '../../lib/runtime/runtime-slot';
import { registryToken } from '../../scripts/stack/tokens';
import { agentServices } from '../../lib/consul/agent';
import { OWNER_META } from '../../lib/registry/quota';
import { REGISTRY_KEYS } from '../../lib/registry/registry-config';
import { putConfig, seedDefaultConfig } from '../../scripts/stack/seed-config';
import { lambdaContext, startTestStack, type TestStack } from './harness';

const PREFIX = 'config/instance-registry/concurrency/';
const PARALLEL = 50;
// Requests are spread over several warm execution environments, as Lambda spreads a burst: each has
// its own runtime (its own Consul client, config and lease), so nothing in-process orders them.
const ENVIRONMENTS = 10;
const slots = Array.from({ length: ENVIRONMENTS }, () => runtimeSlot(createRegistryRuntime));
const handlers = slots.map(instancesHandler);
let sent = 0;
let stack: TestStack;
const saved = { ...process.env };

interface Answer {
  status: number;
  retryAfter?: string;
  body: { id?: string; leaseToken?: string; error?: { code?: string; message?: string } };
}

async function post(apiKeyId: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const event = {
    httpMethod: 'POST',
    resource: '/instances',
    path: '/instances',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    pathParameters: null,
    queryStringParameters: null,
    requestContext: { identity: { apiKeyId } },
  } as unknown as APIGatewayProxyEvent;
  const res = await handlers[sent++ % ENVIRONMENTS]!(event, lambdaContext(15_000));
  return {
    status: res.statusCode ?? 0,
    retryAfter: res.headers?.['retry-after'] as string | undefined,
    body: JSON.parse(res.body ?? '{}') as Answer['body'],
  };
}

async function instancesOf(service: string) {
  return (await agentServices(stack.admin, `Service == "${service}"`)).map((s) => ({ id: s.id, owner: s.meta[OWNER_META] }));
}

async function setLimits(values: Record<string, string>) {
  await putConfig(stack.admin, PREFIX, values);
  for (const slot of slots) slot.reset(); // the next invocations read the new config (cold starts)
}

before(async () => {
  stack = await startTestStack();
  await seedDefaultConfig(stack.admin, PREFIX, REGISTRY_KEYS, { allowedServicePrefixes: 'ephemeral-', allowedCidrs: '10.0.0.0/8' });
  const token = await registryToken(stack.admin, PREFIX);
  Object.assign(process.env, {
    CONSUL_HTTP_ADDR: stack.consul.address,
    CONSUL_HTTP_TOKEN: token,
    CONFIG_PREFIX: PREFIX,
    REGISTRY_SIGNING_KEY: randomBytes(32).toString('hex'),
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
});

after(async () => {
  for (const slot of [...slots, runtime]) slot.reset();
  process.env = saved;
  await stack?.stop();
});

describe('Idempotency-Key under concurrency (real agent)', () => {
  it(`${PARALLEL} parallel POSTs per key, two keys at a time, four keys: one instance per key, and every caller gets its id and token`, async () => {
    const keys = Array.from({ length: 4 }, (_, i) => `job-${i}-${randomBytes(8).toString('hex')}`);
    const service = 'ephemeral-idem';
    // Two keys at a time: 100 requests in flight stay under the agent's 200 connections per client
    // IP (http_max_conns_per_client), beyond which Consul answers 429 whatever the registry does.
    const answers: Answer[] = [];
    for (const wave of [keys.slice(0, 2), keys.slice(2)]) {
      answers.push(
        ...(await Promise.all(
          wave.flatMap((key) =>
            Array.from({ length: PARALLEL }, () =>
              post('api-key-idem', { service, address: '10.9.0.1', port: 9000 + keys.indexOf(key) }, { 'idempotency-key': key }),
            ),
          ),
        )),
      );
    }
    const problems = answers.filter((a) => a.status !== 201).map((a) => `${a.status} ${a.body.error?.code}: ${a.body.error?.message}`);
    assert.deepEqual(problems, [], 'every caller gets 201');
    for (const [k, key] of keys.entries()) {
      const mine = answers.slice(k * PARALLEL, (k + 1) * PARALLEL);
      const ids = new Set(mine.map((a) => a.body.id));
      const tokens = new Set(mine.map((a) => a.body.leaseToken));
      assert.equal(ids.size, 1, `one id for ${key}: ${[...ids].join(', ')}`);
      assert.equal(tokens.size, 1, `one lease token for ${key}`);
    }
    const registered = await instancesOf(service);
    assert.equal(registered.length, keys.length, `exactly one instance per key in Consul: ${registered.map((r) => r.id).join(', ')}`);
    assert.deepEqual(new Set(registered.map((r) => r.id)), new Set(answers.map((a) => a.body.id)));
  });
});

describe('per-API-key quotas under concurrency (real agent)', () => {
  it(`${PARALLEL} parallel POSTs cannot pass the per-service limit, then the total; other keys are not affected; 429 with Retry-After`, async () => {
    await setLimits({ maxInstancesPerApiKey: '10', maxInstancesPerServicePerApiKey: '6' });
    const send = (apiKeyId: string, service: string) =>
      Promise.all(Array.from({ length: PARALLEL }, (_, i) => post(apiKeyId, { service, address: '10.9.1.1', port: 10_000 + i })));

    const first = await send('api-key-q1', 'ephemeral-qa');
    const created = first.filter((a) => a.status === 201);
    const refused = first.filter((a) => a.status === 429);
    assert.equal(created.length, 6, `exactly the per-service limit registered: ${created.length}`);
    assert.equal(
      refused.length,
      PARALLEL - 6,
      `the rest refused: ${first
        .filter((a) => a.status !== 201 && a.status !== 429)
        .map((a) => `${a.status} ${a.body.error?.code}`)
        .join(', ')}`,
    );
    for (const a of refused) {
      assert.equal(a.body.error?.code, 'QUOTA_EXCEEDED');
      assert.equal(a.retryAfter, '30');
      assert.match(a.body.error?.message ?? '', /limit 6 per service/);
    }

    const second = await send('api-key-q1', 'ephemeral-qb');
    assert.equal(second.filter((a) => a.status === 201).length, 4, 'the total limit (10) caps the second service at 4');
    assert.ok(second.filter((a) => a.status === 429).every((a) => a.body.error?.code === 'QUOTA_EXCEEDED'));
    assert.equal(second.filter((a) => a.status !== 201 && a.status !== 429).length, 0);

    const qa = await instancesOf('ephemeral-qa');
    const qb = await instancesOf('ephemeral-qb');
    assert.equal(qa.length, 6, 'Consul holds 6 instances of ephemeral-qa');
    assert.equal(qb.length, 4, 'Consul holds 4 instances of ephemeral-qb');
    assert.equal(new Set([...qa, ...qb].map((i) => i.owner)).size, 1, 'all marked with one owner digest');

    const other = await post('api-key-q2', { service: 'ephemeral-qa', address: '10.9.1.2', port: 1 });
    assert.equal(other.status, 201, 'another API key has its own quota');

    // Deleting one frees its slot at once.
    const victim = created[0]!.body;
    const del = await handler(
      {
        httpMethod: 'DELETE',
        resource: '/instances/{id}',
        path: `/instances/${victim.id}`,
        headers: { 'x-lease-token': victim.leaseToken },
        pathParameters: { id: victim.id },
        requestContext: { identity: { apiKeyId: 'api-key-q1' } },
      } as unknown as APIGatewayProxyEvent,
      lambdaContext(),
    );
    assert.equal(del.statusCode, 204);
    assert.equal((await post('api-key-q1', { service: 'ephemeral-qb', address: '10.9.1.1', port: 11_000 })).status, 201);
    assert.equal((await post('api-key-q1', { service: 'ephemeral-qb', address: '10.9.1.1', port: 11_001 })).status, 429);
  });
});
