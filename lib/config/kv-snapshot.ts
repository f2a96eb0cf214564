/**
 * One recursive read of a function's K/V prefix. There is no cache here: the
 * config store holds the only copy, and a read whose X-Consul-Index equals the
 * previous one returns the previous snapshot itself, so the store can skip
 * re-validating unchanged config by identity.
 */
import type { ConsulApi } from '../consul/consul-api';
import { kvGetRecursive } from '../consul/kv';
import { relativeKeys } from './resolve-config';

/** The values below a prefix, keyed by their path relative to it, with the index of the read. */
export interface KvSnapshot {
  values: Readonly<Record<string, string>>;
  index: string;
}

/** Reads `prefix` once, within `timeoutMs`; returns `previous` unchanged when Consul's index has not moved. */
export async function readKvSnapshot(api: ConsulApi, prefix: string, timeoutMs: number, previous?: KvSnapshot): Promise<KvSnapshot> {
  const res = await kvGetRecursive(api, prefix, { timeoutMs });
  if (previous && previous.index === res.index) return previous;
  return { values: relativeKeys(prefix, res.value), index: res.index };
}
