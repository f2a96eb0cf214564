import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import {
  CreateServiceCommand,
  DeregisterInstanceCommand,
  RegisterInstanceCommand,
  ServiceDiscoveryClient,
  UpdateInstanceCustomHealthStatusCommand,
} from '@aws-sdk/client-servicediscovery';
import { mockClient } from 'aws-sdk-client-mock';
import { applyPlan } from '../../../lib/cloudmap/apply';
import type { SyncAction } from '../../../lib/cloudmap/types';
import { silentLog } from '../../../lib/log/logger';
import { deferred, drainMicrotasks, type Deferred } from '../helpers/deferred';
import { recordingLog } from '../helpers/recording-log';

const client = new ServiceDiscoveryClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
const cm = mockClient(client);
afterEach(() => cm.reset());

const create = (name: string): SyncAction => ({
  kind: 'createService',
  serviceName: name,
  namespaceId: 'ns-1',
  description: 'managed-by: t',
});
const register = (svc: string, id: string, serviceId?: string): SyncAction => ({
  kind: 'registerInstance',
  serviceName: svc,
  serviceId,
  instanceId: id,
  attributes: { AWS_INSTANCE_IPV4: '10.0.0.1' },
  reason: 'new',
  droppedAttributes: 0,
});
const health = (svc: string, id: string, serviceId?: string): SyncAction => ({
  kind: 'updateHealth',
  serviceName: svc,
  serviceId,
  instanceId: id,
  status: 'UNHEALTHY',
});
const deregister = (svc: string, id: string): SyncAction => ({
  kind: 'deregisterInstance',
  serviceName: svc,
  serviceId: `srv-${svc}`,
  instanceId: id,
});
const writes = () => cm.calls().length;
/** An SDK error as the client raises it once its own retries are spent. */
const awsError = (name: string, attempts = 1) => Object.assign(new Error(`${name} message`), { name, $metadata: { attempts } });

describe('applyPlan', () => {
  it('creates services first and registers their instances under the new id', async () => {
    const order: string[] = [];
    const createGate = deferred();
    let createCalled = false;
    cm.on(CreateServiceCommand).callsFake(async (input: { Name: string }) => {
      createCalled = true;
      await createGate.promise;
      order.push(`create ${input.Name}`);
      return { Service: { Id: `srv-new-${input.Name}` } };
    });
    cm.on(RegisterInstanceCommand).callsFake(async (input: { ServiceId: string; InstanceId: string }) => {
      order.push(`register ${input.ServiceId}/${input.InstanceId}`);
      return { OperationId: 'op' };
    });
    // Instance actions listed before the create still wait for it.
    const applying = applyPlan(client, [register('a', '1'), create('a'), register('a', '2')], { concurrency: 4, log: silentLog });
    await drainMicrotasks();
    assert.equal(createCalled, true, 'CreateService was called');
    assert.equal(cm.commandCalls(RegisterInstanceCommand).length, 0, 'no registration while the create is in flight');
    createGate.resolve();
    const s = await applying;
    assert.deepEqual(s.errors, []);
    assert.equal(order[0], 'create a');
    assert.deepEqual(order.slice(1).sort(), ['register srv-new-a/1', 'register srv-new-a/2']);
    assert.deepEqual({ created: s.created, registered: s.registered }, { created: 1, registered: 2 });
    assert.deepEqual(s.calls, { CreateService: 1, RegisterInstance: 2 });
  });

  it('registers an instance before pushing its health', async () => {
    const order: string[] = [];
    const registerGate = deferred();
    let registerCalled = false;
    cm.on(RegisterInstanceCommand).callsFake(async () => {
      registerCalled = true;
      await registerGate.promise;
      order.push('register');
      return {};
    });
    cm.on(UpdateInstanceCustomHealthStatusCommand).callsFake(async () => {
      order.push('health');
      return {};
    });
    const applying = applyPlan(client, [register('a', '1', 'srv-a'), health('a', '1', 'srv-a')], { concurrency: 8, log: silentLog });
    await drainMicrotasks();
    assert.equal(registerCalled, true, 'RegisterInstance was called');
    assert.equal(cm.commandCalls(UpdateInstanceCustomHealthStatusCommand).length, 0, 'no health push while the registration is in flight');
    registerGate.resolve();
    const s = await applying;
    assert.deepEqual(order, ['register', 'health']);
    assert.equal(s.healthChanges, 1);
  });

  it('runs the actions of different instances in parallel', async () => {
    const gates: Deferred<void>[] = [];
    cm.on(RegisterInstanceCommand).callsFake(async () => {
      const gate = deferred();
      gates.push(gate);
      await gate.promise;
      return {};
    });
    const applying = applyPlan(client, [register('a', '1', 'srv-a'), register('a', '2', 'srv-a'), register('b', '1', 'srv-b')], {
      concurrency: 8,
      log: silentLog,
    });
    await drainMicrotasks();
    assert.equal(gates.length, 3, 'all three registrations in flight at once');
    for (const g of gates) g.resolve();
    assert.equal((await applying).registered, 3);
  });

  it('reports a failed action and carries on with the others', async () => {
    cm.on(RegisterInstanceCommand).resolves({ OperationId: 'op' });
    cm.on(RegisterInstanceCommand, { InstanceId: 'bad' }).rejects(awsError('InvalidInput'));
    cm.on(UpdateInstanceCustomHealthStatusCommand).resolves({});
    cm.on(DeregisterInstanceCommand).resolves({ OperationId: 'op' });
    const plan = [
      register('a', 'bad', 'srv-a'),
      health('a', 'bad', 'srv-a'),
      register('a', 'good', 'srv-a'),
      health('a', 'good', 'srv-a'),
      deregister('a', 'old'),
    ];
    const s = await applyPlan(client, plan, { concurrency: 2, log: silentLog });
    assert.deepEqual(
      { registered: s.registered, healthChanges: s.healthChanges, deregistered: s.deregistered },
      { registered: 1, healthChanges: 1, deregistered: 1 },
    );
    assert.deepEqual(
      s.errors.map((e) => [e.action.kind, e.message]),
      [
        ['registerInstance', 'RegisterInstance: InvalidInput message'],
        ['updateHealth', 'UpdateInstanceCustomHealthStatus: not attempted: the registerInstance before it failed'],
      ],
    );
    assert.equal(
      cm.commandCalls(UpdateInstanceCustomHealthStatusCommand).length,
      1,
      'no health push for the instance that was not registered',
    );
  });

  it('reports the instances of a service it could not create, without calling for them', async () => {
    cm.on(CreateServiceCommand).rejects(awsError('ResourceLimitExceeded'));
    const s = await applyPlan(client, [create('a'), register('a', '1'), health('a', '1')], { concurrency: 4, log: silentLog });
    assert.equal(s.created, 0);
    assert.equal(s.errors.length, 3);
    assert.match(s.errors[1]?.message ?? '', /service a has no id/);
    assert.deepEqual(s.calls, { CreateService: 1 });
  });

  it('reports a call still throttled after the SDK retries and counts those retries', async () => {
    cm.on(RegisterInstanceCommand).resolves({ OperationId: 'op', $metadata: { attempts: 2 } });
    cm.on(RegisterInstanceCommand, { InstanceId: 'hot' }).rejects(awsError('RequestLimitExceeded', 5));
    const s = await applyPlan(client, [register('a', 'hot', 'srv-a'), register('a', 'ok', 'srv-a')], { concurrency: 2, log: silentLog });
    assert.equal(s.registered, 1);
    assert.deepEqual(
      s.errors.map((e) => e.message),
      ['RegisterInstance: RequestLimitExceeded message'],
    );
    assert.equal(s.retries, 4 + 1);
  });

  it('counts a deregistration of an instance that is already gone as done', async () => {
    cm.on(DeregisterInstanceCommand).rejects(awsError('InstanceNotFound'));
    const s = await applyPlan(client, [deregister('a', 'x')], { concurrency: 1, log: silentLog });
    assert.deepEqual(s.errors, []);
    assert.equal(s.deregistered, 1);
  });

  it('makes no write call in a dry run and returns what it would do', async () => {
    const plan: SyncAction[] = [
      create('a'),
      register('a', '1'),
      health('a', '1'),
      deregister('b', '9'),
      { kind: 'skipForeignService', serviceName: 'c', serviceId: 'srv-c' },
    ];
    const s = await applyPlan(client, plan, { concurrency: 4, dryRun: true, log: silentLog });
    assert.equal(writes(), 0);
    assert.deepEqual(
      { ...s, durationMs: 0 },
      { created: 1, registered: 1, deregistered: 1, healthChanges: 1, skipped: 1, errors: [], durationMs: 0, calls: {}, retries: 0 },
    );
  });

  it('keeps at most `concurrency` calls in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const pending: Deferred<void>[] = [];
    cm.on(RegisterInstanceCommand).callsFake(async () => {
      peak = Math.max(peak, ++inFlight);
      const gate = deferred();
      pending.push(gate);
      await gate.promise;
      inFlight--;
      return {};
    });
    const plan = Array.from({ length: 40 }, (_, i) => register('a', String(i), 'srv-a'));
    let done = false;
    const applying = applyPlan(client, plan, { concurrency: 3, log: silentLog }).finally(() => (done = true));
    let released = 0;
    for (let turns = 0; !done; turns++) {
      assert.ok(turns <= 40, 'the apply did not finish');
      await drainMicrotasks();
      assert.ok(inFlight <= 3, `${inFlight} calls in flight`);
      if (pending.length > 0) assert.equal(pending.length, Math.min(3, 40 - released), 'the limiter refills every free slot');
      released += pending.length;
      for (const g of pending.splice(0)) g.resolve();
    }
    const s = await applying;
    assert.equal(s.registered, 40);
    assert.equal(peak, 3);
  });

  it('skips foreign services without any call', async () => {
    const s = await applyPlan(client, [{ kind: 'skipForeignService', serviceName: 'c', serviceId: 'srv-c' }], {
      concurrency: 4,
      log: silentLog,
    });
    assert.equal(s.skipped, 1);
    assert.equal(writes(), 0);
  });

  it('logs at most five failed actions but reports every one', async () => {
    cm.on(RegisterInstanceCommand).rejects(awsError('InvalidInput'));
    const log = recordingLog();
    const plan = Array.from({ length: 8 }, (_, i) => register('a', String(i), 'srv-a'));
    const s = await applyPlan(client, plan, { concurrency: 2, log });
    assert.equal(s.errors.length, 8);
    assert.equal(log.messages('warn').filter((m) => m === 'Cloud Map sync action failed').length, 5);
    assert.deepEqual(log.lines.at(-1)?.attributes.errors, 8);
  });
});
