/**
 * An EnvironmentLease on a fake Consul, a recording log and a hand-moved clock: what the agent-mode
 * and session-mode lease tests start every case from.
 */
import type { TestContext } from 'node:test';
import type { ConsulApi } from '../../../lib/consul/consul-api';
import { EnvironmentLease } from '../../../lib/lease/environment-lease';
import { recordingLog } from './recording-log';

/** When the environment's cold start happened; the clock starts 100 ms later, at T0. */
export const COLD_START = new Date('2024-05-01T10:00:00.000Z');
export const T0 = COLD_START.getTime() + 100;

/** A lease on `consul` with setTimeout mocked (its 15 ms hold runs on `t.mock.timers`); move `clock.now` to age it. */
export function leaseFixture<C extends ConsulApi>(t: TestContext, consul: C) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const log = recordingLog();
  const clock = { now: T0 };
  const lease = new EnvironmentLease(consul, log, COLD_START, () => clock.now);
  return { consul, log, clock, lease };
}
