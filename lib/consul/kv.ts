/** Consul K/V operations used by the config provider, the seeding script and tests. */
import type { CallOptions, ConsulApi, Indexed, KvPair } from './consul-api';

interface RawKvItem {
  Key?: unknown;
  Value?: unknown;
  ModifyIndex?: unknown;
}

/** One recursive read of `prefix`; a missing prefix is an empty list, not an error. */
export async function kvGetRecursive(
  api: ConsulApi,
  prefix: string,
  opts: CallOptions & { index?: string; waitSeconds?: number; stale?: boolean } = {},
): Promise<Indexed<KvPair[]>> {
  const res = await api.callIndexed(opts.stale ? 'consul.kv.get.stale' : 'consul.kv.get', opts, (client, ctx) =>
    client.kv.get({
      key: prefix,
      recurse: true,
      ctx,
      ...(opts.stale ? { stale: true } : {}),
      ...(opts.index ? { index: opts.index, wait: `${opts.waitSeconds ?? 0}s` } : {}),
    }),
  );
  const items = Array.isArray(res.value) ? (res.value as RawKvItem[]) : [];
  const pairs = items
    .filter((i): i is { Key: string; Value: unknown; ModifyIndex: unknown } => typeof i.Key === 'string')
    .map((i) => ({ key: i.Key, value: typeof i.Value === 'string' ? i.Value : '', modifyIndex: Number(i.ModifyIndex ?? 0) }));
  return { ...res, value: pairs };
}

/** Writes one key; with `onlyIfAbsent` it uses check-and-set 0 so an existing value is kept. */
export async function kvPut(
  api: ConsulApi,
  key: string,
  value: string,
  opts: CallOptions & { onlyIfAbsent?: boolean } = {},
): Promise<boolean> {
  if (opts.onlyIfAbsent) return kvCas(api, key, value, 0, opts);
  const result = await api.call('consul.kv.set', opts, (client, ctx) => client.kv.set({ key, value, ctx }));
  return result === true;
}

/** Deletes one key (or a whole prefix with `recurse`). */
export async function kvDelete(api: ConsulApi, key: string, opts: CallOptions & { recurse?: boolean } = {}): Promise<void> {
  await api.call('consul.kv.del', opts, (client, ctx) => client.kv.del({ key, ctx, recurse: opts.recurse ?? false }));
}

/** One key's value and ModifyIndex, or undefined when absent. */
export async function kvGet(api: ConsulApi, key: string, opts: CallOptions = {}): Promise<KvPair | undefined> {
  const res = await api.callIndexed('consul.kv.get', opts, (client, ctx) => client.kv.get({ key, ctx }));
  const item = res.value as RawKvItem | undefined;
  if (!item || typeof item.Key !== 'string') return undefined;
  return { key: item.Key, value: typeof item.Value === 'string' ? item.Value : '', modifyIndex: Number(item.ModifyIndex ?? 0) };
}

/** Writes `value` only if the key's ModifyIndex is still `cas` (0: only if absent); false when it lost the race. */
export async function kvCas(api: ConsulApi, key: string, value: string, cas: number, opts: CallOptions = {}): Promise<boolean> {
  const result = await api.call('consul.kv.set', opts, (client, ctx) => client.kv.set({ key, value, ctx, cas }));
  return result === true;
}

/**
 * Waits (a blocking query) until `key` changes after `index`, or `waitMs` passes; then its value and
 * ModifyIndex (undefined: absent). Consul may answer early; callers re-read and decide again.
 */
export async function kvGetAfter(
  api: ConsulApi,
  key: string,
  index: number,
  waitMs: number,
  opts: CallOptions = {},
): Promise<KvPair | undefined> {
  const wait = Math.max(1, Math.round(waitMs));
  // Consul adds up to wait/16 of jitter to a blocking query: the budget covers it and the round trip.
  const budget = { ...opts, blocking: true, timeoutMs: Math.max(opts.timeoutMs ?? 0, wait + Math.ceil(wait / 16) + 2_000) };
  const res = await api.callIndexed('consul.kv.get', budget, (client, ctx) =>
    client.kv.get({ key, ctx, index: String(index), wait: `${wait}ms` }),
  );
  const item = res.value as RawKvItem | undefined;
  if (!item || typeof item.Key !== 'string') return undefined;
  return { key: item.Key, value: typeof item.Value === 'string' ? item.Value : '', modifyIndex: Number(item.ModifyIndex ?? 0) };
}
