// begin()'s lease modes on the in-memory Consul: by default the cold start waits for its lease
// registration; with leaseInParallel it returns at once and leaseSettled() says when it is done.
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { COLD_START_TRACE_MESSAGE, ColdStartTrace } from '../../../lib/runtime/cold-start-trace';
import { createFunctionRuntime } from '../../../lib/runtime/function-runtime';
import { runtimeKeys } from '../../../lib/runtime/runtime-keys';
import { drainMicrotasks } from '../helpers/deferred';
import { consulError, FakeConsul } from '../helpers/fake-consul';
import { recordingLog } from '../helpers/recording-log';

const PREFIX = 'config/test/';
const REGISTER = 'consul.agent.service.register';

function setup(trace?: ColdStartTrace) {
  const consul = new FakeConsul();
  consul.putKv(`${PREFIX}leaseService`, 'test-lambda');
  const log = recordingLog();
  const rt = createFunctionRuntime(
    runtimeKeys('test-lambda'),
    log,
    { consulAddress: consul.address, consulToken: 'token', configPrefix: PREFIX },
    { consul, trace },
  );
  return { consul, log, rt };
}

/** True once `p` has settled (checked after the queued continuations have run). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await drainMicrotasks();
  return done;
}

describe('createFunctionRuntime begin()', () => {
  it('waits for the cold start lease registration by default', async () => {
    const { consul, rt } = setup();
    const gate = consul.hold(REGISTER);
    const begin = rt.begin();
    assert.equal(await settled(begin), false, 'held by the registration');
    gate.resolve();
    const loaded = await begin;
    assert.equal(loaded.values.leaseService, 'test-lambda');
    assert.equal(rt.lease.snapshot().registered, true);
    rt.close();
  });

  it('with leaseInParallel returns while the registration is in flight; leaseSettled() resolves once it is done', async () => {
    const { consul, rt } = setup();
    const gate = consul.hold(REGISTER);
    const loaded = await rt.begin({ leaseInParallel: true });
    assert.equal(loaded.values.leaseService, 'test-lambda');
    assert.equal(consul.callsOf(REGISTER).length, 1, 'the registration was sent');
    assert.equal(rt.lease.snapshot().registered, false);
    const leaseDone = rt.leaseSettled();
    assert.equal(await settled(leaseDone), false, 'not settled while the registration is held');
    gate.resolve();
    await leaseDone;
    assert.equal(rt.lease.snapshot().registered, true);
    rt.close();
  });

  it('with leaseInParallel a failed registration settles without rejecting and is logged once', async () => {
    const { consul, log, rt } = setup();
    consul.failOn(REGISTER, consulError(REGISTER, 500));
    await rt.begin({ leaseInParallel: true });
    await rt.leaseSettled();
    assert.deepEqual(log.messages('warn'), ['lease registration or renewal failed']);
    assert.equal(rt.lease.snapshot().failures, 1);
    rt.close();
  });

  it('does not touch the lease when asked not to, and leaseSettled() is then already settled', async () => {
    const { consul, rt } = setup();
    await rt.begin({ lease: false });
    assert.equal(consul.callsOf(REGISTER).length, 0);
    assert.equal(await settled(rt.leaseSettled()), true);
    rt.close();
  });

  it('traces the cold start steps when tracing is on; a second invocation logs what the first reached', async () => {
    let now = 0;
    const trace = new ColdStartTrace(true, () => ++now);
    const { consul, log, rt } = setup(trace);
    const gate = consul.hold(REGISTER);
    await rt.begin({ leaseInParallel: true });
    assert.deepEqual(
      trace.steps().map((s) => s.step),
      ['handler', 'secrets', 'config'],
    );
    gate.resolve();
    await rt.leaseSettled();
    assert.deepEqual(
      trace.steps().map((s) => s.step),
      ['handler', 'secrets', 'config', 'lease'],
    );
    assert.deepEqual(
      log.messages('info').filter((m) => m === COLD_START_TRACE_MESSAGE),
      [],
      'nothing logged until the trace ends',
    );
    await rt.begin();
    const line = log.lines.find((l) => l.message === COLD_START_TRACE_MESSAGE);
    assert.deepEqual(
      (line?.attributes.coldStart as { steps: { step: string }[] }).steps.map((s) => s.step),
      ['handler', 'secrets', 'config', 'lease'],
    );
    assert.equal(trace.active, false);
    rt.close();
  });

  it('beginWarm() is undefined until a begin() has succeeded, then gives the loaded config with no await and no request', async () => {
    const { consul, rt } = setup();
    assert.equal(rt.beginWarm(), undefined, 'a cold start must begin()');
    assert.equal(consul.calls.length, 0, 'asking sent nothing');
    const loaded = await rt.begin();
    const sent = consul.calls.length;
    assert.equal(rt.beginWarm(), loaded);
    assert.equal(consul.calls.length, sent, 'the lease is not due and the config is fresh');
    assert.equal(await settled(rt.leaseSettled()), true);
    rt.close();
  });

  it('a concurrent invocation sends no second registration, and leaseSettled() still waits for the one under way', async () => {
    // Two invocations at once in one environment (Lambda Managed Instances): the second must not
    // settle leaseSettled() for the first, nor answer itself, before the registration has landed.
    const { consul, rt } = setup();
    const gate = consul.hold(REGISTER);
    const loaded = await rt.begin({ leaseInParallel: true });
    assert.equal(rt.beginWarm(), loaded);
    assert.equal(await rt.begin({ leaseInParallel: true }), loaded);
    assert.equal(consul.callsOf(REGISTER).length, 1, 'no second registration');
    const leaseDone = rt.leaseSettled();
    assert.equal(await settled(leaseDone), false, 'held by the registration the first invocation started');
    gate.resolve();
    await leaseDone;
    assert.equal(rt.lease.snapshot().registered, true);
    assert.equal(rt.beginWarm(), loaded);
    assert.equal(await settled(rt.leaseSettled()), true, 'registered and not due: nothing to wait for');
    rt.close();
  });

  it('beginWarm() renews a due lease and refreshes stale config in the background, as begin() does', async () => {
    // The runtime's lease and config store read the clock through Date.now, mocked here from before they exist.
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    try {
      const { consul, rt } = setup();
      consul.putKv(`${PREFIX}configMaxAgeSeconds`, '60');
      const loaded = await rt.begin();
      const renewals = () => consul.callsOf('consul.agent.check.pass').length;
      const kvReads = () => consul.callsOf('consul.kv.get').length;
      const [renewed, read] = [renewals(), kvReads()];
      assert.equal(rt.beginWarm(), loaded);
      assert.deepEqual([renewals(), kvReads()], [renewed, read], 'nothing due yet');
      // The default lease TTL is 30 s, renewed once per third of it; config is re-read after 60 s.
      mock.timers.tick(61_000);
      assert.equal(rt.beginWarm(), loaded, 'the loaded config, while the refresh runs');
      assert.equal(renewals(), renewed + 1, 'the due renewal was sent');
      assert.equal(kvReads(), read + 1, 'the stale config is being re-read');
      await rt.leaseSettled();
      rt.close();
    } finally {
      mock.timers.reset();
    }
  });

  it('beginWarm() logs the cold start trace a first invocation left unended, as begin() does', async () => {
    let now = 0;
    const trace = new ColdStartTrace(true, () => ++now);
    const { log, rt } = setup(trace);
    await rt.begin();
    assert.equal(log.lines.filter((l) => l.message === COLD_START_TRACE_MESSAGE).length, 0);
    rt.beginWarm();
    assert.equal(log.lines.filter((l) => l.message === COLD_START_TRACE_MESSAGE).length, 1);
    assert.equal(trace.active, false);
    rt.close();
  });

  it('begin() without leaseInParallel waits for the registration another invocation started', async () => {
    // status, the registry and health-sync begin() without leaseInParallel and never ask leaseSettled().
    const { consul, rt } = setup();
    const gate = consul.hold(REGISTER);
    const loaded = await rt.begin({ leaseInParallel: true });
    const second = rt.begin();
    assert.equal(await settled(second), false, 'held by the registration under way');
    gate.resolve();
    assert.equal(await second, loaded);
    assert.equal(consul.callsOf(REGISTER).length, 1);
    rt.close();
  });

  it('an invocation that asks for no lease starts none, and does not release the one under way early', async () => {
    const { consul, rt } = setup();
    const gate = consul.hold(REGISTER);
    const loaded = await rt.begin({ leaseInParallel: true });
    assert.equal(rt.beginWarm({ lease: false }), loaded);
    assert.equal(consul.callsOf(REGISTER).length, 1, 'nothing sent for it');
    const leaseDone = rt.leaseSettled();
    assert.equal(await settled(leaseDone), false, 'the cold start still waits for its registration');
    gate.resolve();
    await leaseDone;
    assert.equal(rt.lease.snapshot().registered, true);
    rt.close();
  });

  it('runs beforeConfig once the token is known and before the cold start config read, and not when warm', async () => {
    const { consul, rt } = setup();
    const seen: number[] = [];
    await rt.begin({ beforeConfig: () => seen.push(consul.callsOf('consul.kv.get').length) });
    assert.deepEqual(seen, [0], 'called before any K/V read');
    assert.ok(consul.callsOf('consul.kv.get').length >= 1, 'and the config was read after it');
    await rt.begin({ beforeConfig: () => seen.push(-1) });
    assert.deepEqual(seen, [0], 'not called once the config is loaded');
    rt.close();
  });
});
