// Execution-environment leases on a real Consul with ACLs: registration with meta,
// renewal, re-registration, expiry, SIGTERM, least privilege.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { handler as statusHandler, runtime } from '../../functions/status';
import { gatewayToken } from '../../scripts/stack/tokens';
import { deregisterService, registerTtlService } from '../../lib/consul/agent';
import { createConsulApi } from '../../lib/consul/consul-api';
import { ConsulRequestError } from '../../lib/consul/errors';
import { kvPut } from '../../lib/consul/kv';
import { startProcess, stopProcess, waitForLine } from '../../scripts/stack/processes';
import { eventually, httpEvent, lambdaContext, startTestStack, useFunctionEnvironment, type TestStack } from './harness';

interface HealthEntry {
  Service: { ID: string; Meta: Record<string, string>; Tags: string[] };
  Checks: { ServiceID: string; Status: string; Output: string }[];
}

let stack: TestStack;

async function leaseEntries(): Promise<HealthEntry[]> {
  const res = await fetch(`http://${stack.consul.address}/v1/health/service/greeter-gateway-lambda`, {
    headers: { 'x-consul-token': stack.consul.managementToken },
  });
  return (await res.json()) as HealthEntry[];
}
async function leaseStatus(id: string): Promise<string | undefined> {
  const e = (await leaseEntries()).find((x) => x.Service.ID === id);
  return e?.Checks.find((c) => c.ServiceID === id)?.Status;
}
async function invoke(): Promise<void> {
  const res = await statusHandler(httpEvent('GET'), lambdaContext());
  assert.equal(res.statusCode, 200, res.body);
}
const lease = () => runtime.get().lease.snapshot();
const leaseId = () => lease().id ?? '';
/** Invokes until the lease was renewed once more: renewals are due once per TTL/3. */
async function invokeUntilRenewed(): Promise<void> {
  const before = lease().lastRenewedAt;
  await eventually(
    async () => {
      await invoke();
      return lease().lastRenewedAt !== before;
    },
    5_000,
    'a lease renewal',
  );
}

before(async () => {
  stack = await startTestStack();
  Object.assign(process.env, {
    AWS_LAMBDA_FUNCTION_NAME: 'greet',
    AWS_REGION: 'eu-west-1',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    AWS_LAMBDA_LOG_STREAM_NAME: '2026/11/24/[$LATEST]abc123',
  });
});
after(async () => {
  runtime.reset();
  for (const k of ['AWS_LAMBDA_FUNCTION_NAME', 'AWS_REGION', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_LOG_STREAM_NAME'])
    delete process.env[k];
  await stack?.stop();
});
beforeEach(async () => {
  runtime.reset();
  useFunctionEnvironment(stack);
  await stack.setConfig({ leaseEnabled: 'true', leaseTtlSeconds: '3', coldStartWaitMs: '100' });
});

describe('execution-environment lease', () => {
  it('appears on cold start, passing, with the meta a platform engineer wants', async () => {
    await invoke();
    const e = (await leaseEntries()).find((x) => x.Service.ID === leaseId());
    assert.ok(e, 'lease registered');
    assert.equal(e.Checks.find((c) => c.ServiceID === leaseId())?.Status, 'passing');
    assert.equal(e.Service.Meta.function, 'greet');
    assert.equal(e.Service.Meta.region, 'eu-west-1');
    assert.equal(e.Service.Meta.memory_mb, '256');
    assert.equal(e.Service.Meta.log_stream, '2026/11/24/[$LATEST]abc123');
    assert.match(e.Service.Meta.runtime ?? '', /node/);
    assert.ok(!Number.isNaN(Date.parse(e.Service.Meta.cold_start_at ?? '')));
  });

  it('is renewed by invocations and turns critical once they stop', async () => {
    await invoke();
    const id = leaseId();
    const registeredAt = Date.now();
    // Three renewals, one per TTL/3, carry the lease past its 3 s TTL.
    for (let i = 0; i < 3; i++) await invokeUntilRenewed();
    assert.ok(Date.now() - registeredAt >= 2_000, 'renewals are spaced by TTL/3');
    assert.equal(await leaseStatus(id), 'passing', 'kept alive past its 3 s TTL');
    await eventually(async () => (await leaseStatus(id)) === 'critical', 6_000, 'the lease to turn critical without renewals');
  });

  it('registers again when it was removed behind its back', async () => {
    await invoke();
    const id = leaseId();
    await deregisterService(stack.admin, id);
    assert.equal(await leaseStatus(id), undefined);
    await invokeUntilRenewed();
    await eventually(async () => (await leaseStatus(id)) === 'passing', 3_000, 'the lease to come back');
    assert.equal(lease().reRegistrations, 1);
    assert.equal(lease().failures, 0);
  });

  it('is not registered when turned off by config', async () => {
    await stack.setConfig({ leaseEnabled: 'false' });
    const before = (await leaseEntries()).length;
    await invoke();
    assert.equal(lease().id, undefined);
    assert.equal((await leaseEntries()).length, before);
  });

  it('is deregistered on SIGTERM, within a bounded time', async () => {
    const child = startProcess('lease child', process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'lease-child.ts')], {
      env: { ...process.env, CONSUL_HTTP_ADDR: stack.consul.address, CONSUL_HTTP_TOKEN: stack.gatewayToken, CONFIG_PREFIX: stack.prefix },
    });
    try {
      const id = (await waitForLine(child, /^LEASE (\S+)$/, 20_000))[1] ?? '';
      assert.equal(await leaseStatus(id), 'passing');
      const t0 = Date.now();
      child.child.kill('SIGTERM');
      assert.equal(await child.exited, 0);
      assert.ok(Date.now() - t0 < 2_000, 'exited promptly');
      assert.equal(await leaseStatus(id), undefined, 'gone from Consul');
    } finally {
      await stopProcess(child, 'SIGKILL');
    }
  });
});

describe('least privilege, enforced by Consul', () => {
  const reg = (name: string) => ({ id: `${name}-probe`, name, ttl: '10s', deregisterCriticalServiceAfter: '1m' });

  it('lets the gateway token write only its lease service', async () => {
    const api = createConsulApi({ address: stack.consul.address, token: stack.gatewayToken });
    try {
      await registerTtlService(api, reg('greeter-gateway-lambda'));
      await assert.rejects(
        registerTtlService(api, reg('greeter')),
        (e: unknown) => e instanceof ConsulRequestError && e.isPermissionDenied,
      );
      await assert.rejects(
        kvPut(api, `${stack.prefix}maxAttempts`, '9'),
        (e: unknown) => e instanceof ConsulRequestError && e.statusCode === 403,
      );
    } finally {
      api.destroy();
    }
  });

  it('lets a read-only token register nothing', async () => {
    const token = await gatewayToken(stack.admin, { configPrefix: stack.prefix, lease: 'none' });
    const api = createConsulApi({ address: stack.consul.address, token });
    try {
      await assert.rejects(
        registerTtlService(api, reg('greeter-gateway-lambda')),
        (e: unknown) => e instanceof ConsulRequestError && e.isPermissionDenied,
      );
      await assert.rejects(
        registerTtlService(api, reg('greeter')),
        (e: unknown) => e instanceof ConsulRequestError && e.isPermissionDenied,
      );
    } finally {
      api.destroy();
    }
  });
});
