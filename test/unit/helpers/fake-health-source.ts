/** A HealthSource whose polls the test answers by hand. */
import assert from 'node:assert/strict';
import type { ServiceInstance } from '../../../lib/consul/service-instances';
import type { HealthSource } from '../../../lib/discovery/health-source';
import type { ServiceQuery } from '../../../lib/discovery/service-query';
import { drainMicrotasks } from './deferred';

/** One poll in flight: what the watch asked for, and how the test answers it. */
export interface Poll {
  query: ServiceQuery;
  index: string | undefined;
  waitSeconds: number;
  signal: AbortSignal;
  resolve(answer: { value: ServiceInstance[]; index: string }): void;
  reject(err: unknown): void;
}

export function fakeHealthSource() {
  const all: Poll[] = [];
  let taken = 0;
  const source: HealthSource = {
    name: 'consul',
    passingInstances(query, index, waitSeconds, signal) {
      return new Promise((resolve, reject) => {
        // Like a real request, an aborted poll fails at once.
        signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        all.push({ query, index, waitSeconds, signal, resolve, reject });
      });
    },
  };
  return {
    source,
    /** Every poll so far, in order. */
    all,
    /**
     * The next poll not yet taken, which must have started once every pending
     * continuation has run; fails the test (rather than hanging) if none did.
     */
    async nextPoll(): Promise<Poll> {
      await drainMicrotasks();
      const poll = all[taken];
      if (!poll) return assert.fail(`expected poll #${taken + 1} to have started; ${all.length} started`);
      taken++;
      return poll;
    },
  };
}

export const instance = (id: string, port: number): ServiceInstance => ({
  id,
  service: 'greeter',
  address: '127.0.0.1',
  port,
  tags: [],
  meta: {},
  node: 'n',
});
