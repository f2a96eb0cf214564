import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Client, connectivityState as ConnectivityState } from '@grpc/grpc-js';
import { COLD_START_TRACE_MESSAGE, ColdStartTrace } from '../../../lib/runtime/cold-start-trace';
import { recordingLog } from '../helpers/recording-log';

/** A trace on a clock the test moves by hand. */
function traced(enabled = true) {
  const clock = { now: 0 };
  return { clock, trace: new ColdStartTrace(enabled, () => clock.now) };
}

/** A channel whose connectivity the test drives: each watch waits for the test to change the state. */
function fakeChannel(initial: number) {
  let state = initial;
  const watchers: Array<(err?: Error) => void> = [];
  const channel = {
    getConnectivityState: () => state as ConnectivityState,
    watchConnectivityState: (_s: ConnectivityState, _deadline: Date | number, cb: (err?: Error) => void) => void watchers.push(cb),
  };
  const client = { getChannel: () => channel } as unknown as Pick<Client, 'getChannel'>;
  return {
    client,
    watching: () => watchers.length,
    move(next: number) {
      state = next;
      watchers.splice(0).forEach((cb) => cb());
    },
    expire: () => watchers.splice(0).forEach((cb) => cb(new Error('Deadline passed without connectivity state change'))),
  };
}

const [IDLE, CONNECTING, READY] = [0, 1, 2];

describe('ColdStartTrace', () => {
  it('does nothing when disabled: no steps, no log line', () => {
    const { trace } = traced(false);
    const log = recordingLog();
    trace.mark('handler');
    trace.markWhenReady('connect', fakeChannel(READY).client);
    trace.end(log);
    assert.equal(trace.active, false);
    assert.deepEqual(trace.steps(), []);
    assert.deepEqual(log.lines, []);
  });

  it('times each step from the one before, the first from process start, and logs one line at the end', () => {
    const { clock, trace } = traced();
    const log = recordingLog();
    for (const [step, at] of [
      ['handler', 120],
      ['secrets', 121.5],
      ['config', 130],
      ['call', 150],
    ] as const) {
      clock.now = at;
      trace.mark(step);
    }
    trace.end(log);
    assert.equal(trace.active, false);
    assert.deepEqual(log.messages('info'), [COLD_START_TRACE_MESSAGE]);
    assert.deepEqual(log.lines[0]?.attributes.coldStart, {
      steps: [
        { step: 'handler', ms: 120, atMs: 120 },
        { step: 'secrets', ms: 1.5, atMs: 121.5 },
        { step: 'config', ms: 8.5, atMs: 130 },
        { step: 'call', ms: 20, atMs: 150 },
      ],
      totalMs: 150,
    });
    clock.now = 200;
    trace.mark('later');
    trace.end(log);
    assert.equal(log.lines.length, 1, 'the trace ends once; later marks are dropped');
  });

  it('orders steps by when they ended, whatever the order the marks were recorded in', () => {
    const { clock, trace } = traced();
    for (const [step, at] of [
      ['discovery', 10],
      ['call', 30],
      ['connect', 20],
    ] as const) {
      clock.now = at;
      trace.mark(step);
    }
    assert.deepEqual(trace.steps(), [
      { step: 'discovery', ms: 10, atMs: 10 },
      { step: 'connect', ms: 10, atMs: 20 },
      { step: 'call', ms: 10, atMs: 30 },
    ]);
  });

  it('stops recording after 32 marks, so a runtime that never ends its trace does not grow', () => {
    const { clock, trace } = traced();
    for (let i = 0; i < 100; i++) {
      clock.now = i;
      trace.mark(`s${i}`);
    }
    assert.equal(trace.steps().length, 32);
    assert.equal(trace.steps().at(-1)?.step, 's31');
  });

  it('marks the first connection when the channel turns READY, through CONNECTING', () => {
    const { clock, trace } = traced();
    const ch = fakeChannel(IDLE);
    clock.now = 5;
    trace.mark('discovery');
    trace.markWhenReady('connect', ch.client);
    assert.equal(ch.watching(), 1);
    clock.now = 6;
    ch.move(CONNECTING);
    assert.deepEqual(
      trace.steps().map((s) => s.step),
      ['discovery'],
      'connecting is not connected',
    );
    clock.now = 9;
    ch.move(READY);
    assert.deepEqual(trace.steps(), [
      { step: 'discovery', ms: 5, atMs: 5 },
      { step: 'connect', ms: 4, atMs: 9 },
    ]);
    assert.equal(ch.watching(), 0, 'no watch left once READY');
  });

  it('marks at once on a channel already READY, and leaves the step out when the watch expires', () => {
    const { trace } = traced();
    trace.markWhenReady('ready', fakeChannel(READY).client);
    const never = fakeChannel(CONNECTING);
    trace.markWhenReady('never', never.client);
    never.expire();
    assert.deepEqual(
      trace.steps().map((s) => s.step),
      ['ready'],
    );
    assert.equal(never.watching(), 0);
  });
});
