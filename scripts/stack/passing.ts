/** What Consul says passes right now, for the harness and the scripts that wait on it. */
import type { ConsulApi } from '../../lib/consul/consul-api';
import { consulHealthSource } from '../../lib/discovery/health-source';

/** Ids of the passing instances of `service`, read with the given (management) client. */
export async function passingIds(admin: ConsulApi, service: string): Promise<string[]> {
  const res = await consulHealthSource(admin).passingInstances({ service }, undefined, 0, new AbortController().signal);
  return res.value.map((i) => i.id);
}
