/** What Consul says passes right now, for the harness and the scripts that wait on it. */
import type { ConsulApi } from '../../lib/consul/consul-api';
import { consulHealthSource } from '../../lib/discovery/health-source';

/**
 * How long a test or script waits for a backend it just started to pass its Consul check: the
 * process start (tsx) and the first check interval, on a machine that may be busy. A bound, not a
 * figure: a healthy run passes in a second or two.
 */
export const PASSING_WAIT_MS = 30_000;

/** Ids of the passing instances of `service`, read with the given (management) client. */
export async function passingIds(admin: ConsulApi, service: string): Promise<string[]> {
  const res = await consulHealthSource(admin).passingInstances({ service }, undefined, 0, new AbortController().signal);
  return res.value.map((i) => i.id);
}
