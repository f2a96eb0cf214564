// Consul is the in-memory fake, the gRPC probe is injected, Cloud Map is
// aws-sdk-client-mock, and Date is faked so deadlines are exact.
import assert from 'node:assert/strict';
import { afterEach, describe, it, type TestContext } from 'node:test';
import {
  CreateServiceCommand,
  ListServicesCommand,
  RegisterInstanceCommand,
  ServiceDiscoveryClient,
  UpdateInstanceCustomHealthStatusCommand,
} from '@aws-sdk/client-servicediscovery';
import { mockClient } from 'aws-sdk-client-mock';
import { resolveConfig } from '../../../lib/config/resolve-config';
import { LOCK_KEY, PROBE_STATE_PREFIX, runHealthSync, type HealthSyncDeps } from '../../../lib/health-sync/health-sync';
import { HEALTH_SYNC_KEYS } from '../../../lib/health-sync/health-sync-config';
import type { ProbeResult } from '../../../lib/health-sync/grpc-health-probe';
import type { ProbeState } from '../../../lib/health-sync/probe-state';
import { FakeConsul } from '../helpers/fake-consul';
import { recordingLog } from '../helpers/recording-log';

const NOW = Date.parse('2024-05-01T10:00:00.000Z');
const PROBED_META = { 'lease-registered-by': 'instance-registry', 'lease-check': 'grpc', 'lease-probe-grpc-service': 'helloworld.Greeter' };

const client = new ServiceDiscoveryClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
const cm = mockClient(client);
afterEach(() => cm.reset());

interface ProbeCall {
  address: string;
  port: number;
  service: string;
  timeoutMs: number;
}

/** A probe answering `ok(address)`; it records every call. */
function fakeProbe(ok: (address: string) => boolean = () => true) {
  const calls: ProbeCall[] = [];
  const probe = async (address: string, port: number, service: string, timeoutMs: number): Promise<ProbeResult> => {
    calls.push({ address, port, service, timeoutMs });
    return ok(address)
      ? { ok: true, output: 'grpc.health.v1 Check: SERVING' }
      : { ok: false, output: 'grpc.health.v1 Check failed: UNAVAILABLE: down' };
  };
  return { probe, calls };
}

function setup(t: TestContext, raw: Record<string, string> = {}, probe = fakeProbe()) {
  t.mock.timers.enable({ apis: ['Date'], now: NOW });
  const consul = new FakeConsul();
  const log = recordingLog();
  const config = resolveConfig(HEALTH_SYNC_KEYS, { services: '', cloudMapEnabled: 'false', ...raw }).values;
  const deps: HealthSyncDeps = { consul, config, log, holder: 'test pid 1', probe: probe.probe };
  return { consul, log, deps, probe };
}

const stateOf = (consul: FakeConsul, id: string) =>
  JSON.parse(consul.kv.get(`${PROBE_STATE_PREFIX}${id}`)?.value ?? 'null') as ProbeState | null;
const writes = (consul: FakeConsul) =>
  consul.operations(/^consul\.(kv\.set|kv\.del|agent\.check|catalog\.(register|deregister)|session\.create)/);

describe('runHealthSync locking', () => {
  it('skips with "locked" when another run holds the lock, and probes and writes nothing', async (t) => {
    const { consul, deps, probe } = setup(t);
    consul.addService({ id: 'job-1', service: 'ephemeral-job', meta: PROBED_META });
    consul.sessions.add('other-run');
    consul.kv.set(LOCK_KEY, { value: '{"holder":"other"}', modifyIndex: 1, session: 'other-run' });
    const report = await runHealthSync(deps, { dryRun: false });
    assert.equal(report.skipped, 'locked');
    assert.deepEqual(report.probes, []);
    assert.equal(probe.calls.length, 0);
    assert.deepEqual([...consul.sessions], ['other-run'], 'its own session is destroyed again');
    assert.equal(consul.kv.get(LOCK_KEY)?.session, 'other-run');
    assert.equal(consul.callsOf('consul.health.service').length, 0);
  });

  it('takes the lock for a real run and releases it at the end', async (t) => {
    const { consul, deps } = setup(t);
    const report = await runHealthSync(deps, { dryRun: false });
    assert.equal(report.skipped, undefined);
    const acquire = consul.callsOf('consul.kv.set').find((c) => c.args.key === LOCK_KEY && c.args.acquire);
    assert.ok(acquire, 'the lock was acquired');
    assert.equal(consul.kv.get(LOCK_KEY)?.session, undefined, 'released');
    assert.equal(consul.sessions.size, 0, 'session destroyed');
  });
});

describe('runHealthSync probes', () => {
  it('moves a probed instance to passing only after successesBeforePassing good probes, writing its check and counters', async (t) => {
    const { consul, deps, probe } = setup(t, { successesBeforePassing: '2', probeTimeoutMs: '800' });
    consul.addService({ id: 'job-1', service: 'ephemeral-job', address: '10.0.0.5', port: 9000, meta: PROBED_META, status: 'critical' });

    const first = await runHealthSync(deps, { dryRun: false });
    assert.deepEqual(first.probes, [
      { service: 'ephemeral-job', id: 'job-1', ok: true, output: 'grpc.health.v1 Check: SERVING', status: 'critical', changed: false },
    ]);
    assert.deepEqual(probe.calls, [{ address: '10.0.0.5', port: 9000, service: 'helloworld.Greeter', timeoutMs: 800 }]);
    assert.equal(consul.services.get('job-1')?.status, 'critical', 'one good probe is not enough');
    assert.match(consul.services.get('job-1')?.output ?? '', /SERVING \(critical; 0 failures \/ 1 successes in a row\)/);
    assert.deepEqual(stateOf(consul, 'job-1'), { status: 'critical', consecutiveFailures: 0, consecutiveSuccesses: 1, probedAt: NOW });

    const second = await runHealthSync(deps, { dryRun: false });
    assert.deepEqual(
      second.probes.map((p) => [p.status, p.changed]),
      [['passing', true]],
    );
    assert.equal(consul.services.get('job-1')?.status, 'passing');
    assert.deepEqual(stateOf(consul, 'job-1'), { status: 'passing', consecutiveFailures: 0, consecutiveSuccesses: 2, probedAt: NOW });
  });

  it('moves a passing instance to critical only after failuresBeforeCritical failed probes in a row', async (t) => {
    let up = false;
    const { consul, deps } = setup(
      t,
      { failuresBeforeCritical: '3' },
      fakeProbe(() => up),
    );
    consul.addService({ id: 'job-1', service: 'ephemeral-job', meta: PROBED_META, status: 'passing' });
    consul.putKv(`${PROBE_STATE_PREFIX}job-1`, JSON.stringify({ status: 'passing', consecutiveFailures: 0, consecutiveSuccesses: 5 }));
    const statuses: string[] = [];
    for (const result of [false, false, true, false, false, false]) {
      up = result;
      await runHealthSync(deps, { dryRun: false });
      statuses.push(consul.services.get('job-1')?.status ?? 'gone');
    }
    assert.deepEqual(
      statuses,
      ['passing', 'passing', 'passing', 'passing', 'passing', 'critical'],
      'a success in between starts the count over',
    );
  });

  it('writes the counters and the probe time after every probe', async (t) => {
    const { consul, deps } = setup(t);
    consul.addService({ id: 'job-1', service: 'ephemeral-job', meta: PROBED_META });
    consul.putKv(`${PROBE_STATE_PREFIX}job-1`, JSON.stringify({ status: 'passing', consecutiveFailures: 0, consecutiveSuccesses: 20 }));
    await runHealthSync(deps, { dryRun: false });
    const stateWrites = consul.callsOf('consul.kv.set').filter((c) => String(c.args.key).startsWith(PROBE_STATE_PREFIX));
    assert.equal(stateWrites.length, 1);
    await runHealthSync(deps, { dryRun: false });
    assert.equal(consul.callsOf('consul.kv.set').filter((c) => String(c.args.key).startsWith(PROBE_STATE_PREFIX)).length, 2);
  });

  it('probes the instances of probeServices as well as registry-made gRPC instances, each once', async (t) => {
    const { consul, deps, probe } = setup(t, { probeServices: 'legacy' });
    consul.addService({ id: 'legacy-1', service: 'legacy', address: '10.0.0.7', port: 7000 });
    consul.addService({ id: 'job-1', service: 'ephemeral-job', address: '10.0.0.5', meta: PROBED_META });
    consul.addService({ id: 'legacy-2', service: 'legacy', address: '10.0.0.8', port: 7000, meta: PROBED_META });
    consul.addService({ id: 'unprobed', service: 'ephemeral-job', address: '10.0.0.9', meta: { 'lease-check': 'ttl' } });
    const report = await runHealthSync(deps, { dryRun: false });
    assert.deepEqual(report.probes.map((p) => p.id).sort(), ['job-1', 'legacy-1', 'legacy-2']);
    assert.deepEqual(probe.calls.map((c) => c.address).sort(), ['10.0.0.5', '10.0.0.7', '10.0.0.8']);
    assert.equal(probe.calls.find((c) => c.address === '10.0.0.7')?.service, '', 'no probe service meta: the whole server');
  });

  it('drops the counters of instances that left Consul', async (t) => {
    const { consul, deps } = setup(t);
    consul.addService({ id: 'job-1', service: 'ephemeral-job', meta: PROBED_META });
    consul.putKv(`${PROBE_STATE_PREFIX}gone-1`, JSON.stringify({ status: 'passing', consecutiveFailures: 0, consecutiveSuccesses: 3 }));
    await runHealthSync(deps, { dryRun: false });
    assert.equal(consul.kv.has(`${PROBE_STATE_PREFIX}gone-1`), false);
    assert.equal(consul.kv.has(`${PROBE_STATE_PREFIX}job-1`), true);
  });

  it('logs a probe result it could not record and goes on with the others', async (t) => {
    const { consul, deps, log } = setup(t);
    consul.addService({ id: 'job-1', service: 'ephemeral-job', address: '10.0.0.1', meta: PROBED_META });
    consul.addService({ id: 'job-2', service: 'ephemeral-job', address: '10.0.0.2', meta: PROBED_META });
    consul.failOn('consul.agent.check.fail', new Error('agent said no'), 1);
    const report = await runHealthSync(deps, { dryRun: false });
    assert.equal(report.probes.length, 2);
    assert.deepEqual(log.messages('warn'), ['could not record a probe result']);
    assert.equal(consul.callsOf('consul.agent.check.fail').length, 2);
  });

  it('in a dry run probes and reports, but takes no lock and writes nothing', async (t) => {
    const { consul, deps, probe } = setup(t, { successesBeforePassing: '1' });
    consul.addService({ id: 'job-1', service: 'ephemeral-job', meta: PROBED_META, status: 'critical' });
    consul.putKv(`${PROBE_STATE_PREFIX}gone-1`, '{}');
    const before = writes(consul).length;
    const report = await runHealthSync(deps, { dryRun: true });
    assert.equal(report.dryRun, true);
    assert.deepEqual(
      report.probes.map((p) => [p.id, p.status, p.changed]),
      [['job-1', 'passing', true]],
    );
    assert.equal(probe.calls.length, 1);
    assert.deepEqual(writes(consul).slice(before), []);
    assert.equal(consul.services.get('job-1')?.status, 'critical');
    assert.equal(consul.kv.has(`${PROBE_STATE_PREFIX}gone-1`), true);
  });

  it('does not start a probe that could not finish before the deadline', async (t) => {
    const { consul, deps, log, probe } = setup(t, { probeTimeoutMs: '1000' });
    consul.addService({ id: 'job-1', service: 'ephemeral-job', meta: PROBED_META });
    const report = await runHealthSync({ ...deps, deadline: NOW + 999 }, { dryRun: false });
    assert.deepEqual(report.probes, []);
    assert.equal(probe.calls.length, 0);
    assert.ok(log.messages('warn').includes('health-sync ran short of time; some instances were not probed'));
  });
});

describe('runHealthSync Cloud Map mirror', () => {
  const mirror = { services: 'greeter', cloudMapEnabled: 'true', cloudMapNamespaceId: 'ns-1' };

  function greeters(consul: FakeConsul) {
    consul.addService({ id: 'g1', service: 'greeter', address: '10.0.0.1', port: 50051, status: 'passing' });
    consul.addService({ id: 'g2', service: 'greeter', address: '10.0.0.2', port: 50051, status: 'critical' });
  }

  it('applies a plan that creates the service and registers its instances with their health', async (t) => {
    const { consul, deps } = setup(t, mirror);
    greeters(consul);
    cm.on(ListServicesCommand).resolves({ Services: [] });
    cm.on(CreateServiceCommand).resolves({ Service: { Id: 'srv-greeter' } });
    cm.on(RegisterInstanceCommand).resolves({ OperationId: 'op' });
    cm.on(UpdateInstanceCustomHealthStatusCommand).resolves({});
    const report = await runHealthSync({ ...deps, cloudMap: client }, { dryRun: false });
    assert.deepEqual(
      report.plan.map((a) => [a.kind, 'instanceId' in a ? a.instanceId : a.serviceName]),
      [
        ['createService', 'greeter'],
        ['registerInstance', 'g1'],
        ['registerInstance', 'g2'],
        ['updateHealth', 'g2'],
      ],
    );
    assert.deepEqual(
      {
        created: report.cloudMap?.created,
        registered: report.cloudMap?.registered,
        healthChanges: report.cloudMap?.healthChanges,
        errors: report.cloudMap?.errors,
      },
      { created: 1, registered: 2, healthChanges: 1, errors: [] },
    );
    assert.deepEqual(report.cloudMap?.calls, {
      ListServices: 1,
      CreateService: 1,
      RegisterInstance: 2,
      UpdateInstanceCustomHealthStatus: 1,
    });
    const registered = cm
      .commandCalls(RegisterInstanceCommand)
      .map((c) => [c.args[0].input.ServiceId, c.args[0].input.InstanceId, c.args[0].input.Attributes?.AWS_INSTANCE_IPV4]);
    assert.deepEqual(registered.sort(), [
      ['srv-greeter', 'g1', '10.0.0.1'],
      ['srv-greeter', 'g2', '10.0.0.2'],
    ]);
    assert.equal(report.reverse, undefined, 'reverse sync off and nothing imported before');
  });

  it("mirrors this run's probe verdict rather than the status Consul had before the probes", async (t) => {
    const { consul, deps } = setup(
      t,
      { ...mirror, probeServices: 'greeter' },
      fakeProbe((address) => address !== '10.0.0.1'),
    );
    greeters(consul);
    consul.putKv(`${PROBE_STATE_PREFIX}g1`, JSON.stringify({ status: 'passing', consecutiveFailures: 2, consecutiveSuccesses: 0 }));
    consul.putKv(`${PROBE_STATE_PREFIX}g2`, JSON.stringify({ status: 'critical', consecutiveFailures: 0, consecutiveSuccesses: 1 }));
    cm.on(ListServicesCommand).resolves({ Services: [] });
    cm.on(CreateServiceCommand).resolves({ Service: { Id: 'srv-greeter' } });
    cm.on(RegisterInstanceCommand).resolves({});
    cm.on(UpdateInstanceCustomHealthStatusCommand).resolves({});
    const report = await runHealthSync({ ...deps, cloudMap: client }, { dryRun: false });
    // g1: third failure in a row, now critical; g2: second success, now passing.
    assert.deepEqual(report.probes.map((p) => [p.id, p.status]).sort(), [
      ['g1', 'critical'],
      ['g2', 'passing'],
    ]);
    const health = Object.fromEntries(
      report.plan.flatMap((a) => (a.kind === 'registerInstance' ? [[a.instanceId, a.attributes.AWS_INIT_HEALTH_STATUS]] : [])),
    );
    assert.deepEqual(health, { g1: 'UNHEALTHY', g2: 'HEALTHY' });
  });

  it('in a dry run reads Cloud Map and plans, but makes no write call', async (t) => {
    const { consul, deps } = setup(t, mirror);
    greeters(consul);
    cm.on(ListServicesCommand).resolves({ Services: [] });
    const report = await runHealthSync({ ...deps, cloudMap: client }, { dryRun: true });
    assert.equal(report.plan.length, 4);
    assert.equal(report.cloudMap?.registered, 2, 'counted as it would be done');
    assert.deepEqual(
      cm.calls().map((c) => c.args[0].constructor.name),
      ['ListServicesCommand'],
    );
  });

  it('skips the Cloud Map step, saying so, when too little time is left', async (t) => {
    const { consul, deps, log } = setup(t, mirror);
    greeters(consul);
    const report = await runHealthSync({ ...deps, cloudMap: client, deadline: NOW + 14_999 }, { dryRun: false });
    assert.equal(report.cutShort, 'skipped the Cloud Map step: 14999 ms left');
    assert.deepEqual(report.plan, []);
    assert.equal(report.cloudMap, undefined);
    assert.equal(cm.calls().length, 0);
    assert.ok(log.messages('warn').includes('health-sync ran short of time'));
    assert.equal(consul.sessions.size, 0, 'the lock is released all the same');
  });

  it('says nothing about running short when there is no Cloud Map step to skip', async (t) => {
    const { consul, deps, log } = setup(t, { ...mirror, cloudMapEnabled: 'false' });
    greeters(consul);
    const report = await runHealthSync({ ...deps, cloudMap: client, deadline: NOW + 10_000 }, { dryRun: false });
    assert.equal(report.cutShort, undefined);
    assert.equal(log.messages('warn').includes('health-sync ran short of time'), false);
  });

  it('starts the Cloud Map step with 15 s left', async (t) => {
    const { consul, deps } = setup(t, mirror);
    greeters(consul);
    cm.on(ListServicesCommand).resolves({ Services: [] });
    cm.on(CreateServiceCommand).resolves({ Service: { Id: 'srv-greeter' } });
    cm.on(RegisterInstanceCommand).resolves({});
    cm.on(UpdateInstanceCustomHealthStatusCommand).resolves({});
    const report = await runHealthSync({ ...deps, cloudMap: client, deadline: NOW + 15_000 }, { dryRun: false });
    assert.equal(report.cutShort, undefined);
    assert.equal(report.cloudMap?.registered, 2);
  });

  it('leaves Cloud Map alone when the mirror is disabled', async (t) => {
    const { consul, deps } = setup(t, { ...mirror, cloudMapEnabled: 'false' });
    greeters(consul);
    const report = await runHealthSync({ ...deps, cloudMap: client }, { dryRun: false });
    assert.equal(report.cloudMap, undefined);
    assert.equal(cm.calls().length, 0);
  });

  it('leaves Cloud Map alone when no client or no namespace is given', async (t) => {
    const { consul, deps } = setup(t, mirror);
    greeters(consul);
    assert.equal((await runHealthSync(deps, { dryRun: false })).cloudMap, undefined);
    const noNamespace = { ...deps, config: { ...deps.config, cloudMapNamespaceId: '' }, cloudMap: client };
    const report = await runHealthSync(noNamespace, { dryRun: false });
    assert.equal(report.cloudMap, undefined);
    assert.equal(cm.calls().length, 0);
    // Said loudly: a run that mirrors nothing must not read like a healthy one.
    assert.match(report.cloudMapSkipped ?? '', /cloudMapNamespaceId is empty/);
  });

  it('says nothing about a skipped mirror when mirroring is off on purpose', async (t) => {
    const { consul, deps } = setup(t, { ...mirror, cloudMapEnabled: 'false', cloudMapNamespaceId: '' });
    greeters(consul);
    assert.equal((await runHealthSync(deps, { dryRun: false })).cloudMapSkipped, undefined);
  });
});

describe('runHealthSync under abuse: probing never delays the mirror', () => {
  const mirror = { services: 'greeter', cloudMapEnabled: 'true', cloudMapNamespaceId: 'ns-1' };

  /** A probe that takes `ms` for addresses matching `slow` (a hung instance up to its deadline), answering SERVING otherwise at once. */
  function slowProbe(slow: RegExp, ms: number) {
    const calls: ProbeCall[] = [];
    let settled = 0;
    const probe = async (address: string, port: number, service: string, timeoutMs: number): Promise<ProbeResult> => {
      calls.push({ address, port, service, timeoutMs });
      if (slow.test(address)) await new Promise((r) => setTimeout(r, ms));
      settled++;
      return slow.test(address)
        ? { ok: false, output: 'grpc.health.v1 Check failed: DEADLINE_EXCEEDED' }
        : { ok: true, output: 'grpc.health.v1 Check: SERVING' };
    };
    return { probe, calls, settled: () => settled };
  }

  function cloudMapAccepts(onRegister: () => void) {
    cm.on(ListServicesCommand).resolves({ Services: [] });
    cm.on(CreateServiceCommand).resolves({ Service: { Id: 'srv-greeter' } });
    cm.on(RegisterInstanceCommand).callsFake(() => (onRegister(), {}));
    cm.on(UpdateInstanceCustomHealthStatusCommand).resolves({});
  }

  it('mirrors the real instances while the probes of hung registry-made instances are still running', async (t) => {
    const p = slowProbe(/^10\.66\./, 100);
    const { consul, deps } = setup(t, { ...mirror, probeConcurrency: '2' }, p);
    consul.addService({ id: 'g1', service: 'greeter', address: '10.0.0.1', port: 50051, status: 'passing' });
    for (let i = 0; i < 30; i++)
      consul.addService({ id: `hole-${i}`, service: 'ephemeral-abuse', address: `10.66.0.${i}`, meta: PROBED_META });
    let settledAtMirror = -1;
    cloudMapAccepts(() => (settledAtMirror = p.settled()));
    const report = await runHealthSync({ ...deps, cloudMap: client }, { dryRun: false });
    assert.equal(report.cutShort, undefined);
    assert.equal(report.cloudMap?.registered, 1);
    assert.ok(settledAtMirror >= 0 && settledAtMirror < 30, `the mirror ran after ${settledAtMirror} of 30 probes, not after all of them`);
    assert.equal(report.probes.length, 30, 'the run still probed every instance before it ended');
    assert.equal(consul.sessions.size, 0, 'and released the lock after the last probe');
  });

  it('probes the mirrored instances first, and waits for them at most mirrorProbeWaitMs', async (t) => {
    const p = slowProbe(/^10\.0\.0\.2$/, 400);
    const { consul, deps } = setup(t, { ...mirror, probeServices: 'greeter', probeConcurrency: '1', mirrorProbeWaitMs: '100' }, p);
    for (let i = 0; i < 3; i++) consul.addService({ id: `job-${i}`, service: 'ephemeral-job', address: `10.7.0.${i}`, meta: PROBED_META });
    consul.addService({ id: 'g1', service: 'greeter', address: '10.0.0.1', port: 50051, status: 'critical' });
    consul.addService({ id: 'g2', service: 'greeter', address: '10.0.0.2', port: 50051, status: 'passing' });
    consul.putKv(`${PROBE_STATE_PREFIX}g1`, JSON.stringify({ status: 'critical', consecutiveFailures: 0, consecutiveSuccesses: 1 }));
    let health: Record<string, string | undefined> = {};
    cloudMapAccepts(() => undefined);
    cm.on(RegisterInstanceCommand).callsFake((input: { InstanceId?: string; Attributes?: Record<string, string> }) => {
      health = { ...health, [input.InstanceId ?? '']: input.Attributes?.AWS_INIT_HEALTH_STATUS };
      return {};
    });
    const report = await runHealthSync({ ...deps, cloudMap: client }, { dryRun: false });
    assert.deepEqual(
      p.calls
        .slice(0, 2)
        .map((c) => c.address)
        .sort(),
      ['10.0.0.1', '10.0.0.2'],
      'the mirrored instances are probed first',
    );
    // g1's verdict (second success: passing) was in; g2's probe hung past the wait, so Consul's status is mirrored.
    assert.deepEqual(health, { g1: 'HEALTHY', g2: 'HEALTHY' });
    assert.equal(report.probes.length, 5);
  });

  it('probes first the instances never probed, then those probed longest ago', async (t) => {
    const p = slowProbe(/^$/, 0);
    const { consul, deps } = setup(t, { probeConcurrency: '1' }, p);
    const at = (id: string, probedAt: number) =>
      consul.putKv(
        `${PROBE_STATE_PREFIX}${id}`,
        JSON.stringify({ status: 'critical', consecutiveFailures: 1, consecutiveSuccesses: 0, probedAt }),
      );
    for (const [i, id] of ['recent', 'old', 'never', 'older'].entries())
      consul.addService({ id, service: 'ephemeral-job', address: `10.8.0.${i}`, meta: PROBED_META });
    at('recent', NOW - 1_000);
    at('old', NOW - 60_000);
    at('older', NOW - 120_000);
    await runHealthSync(deps, { dryRun: false });
    assert.deepEqual(
      p.calls.map((c) => c.address),
      ['10.8.0.2', '10.8.0.3', '10.8.0.1', '10.8.0.0'],
    );
  });
});
