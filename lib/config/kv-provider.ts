/**
 * A Consul K/V parameter provider in the style of Powertools Parameters
 * (`get`, `getMultiple`, `maxAge`, `forceFetch`), with one extra: a refresh
 * whose X-Consul-Index equals the cached one keeps the cached object, so
 * callers can skip re-validating unchanged config by identity.
 */
import type { ConsulApi } from '../consul/consul-api';
import { kvGetRecursive } from '../consul/kv';
import { relativeKeys } from './resolve-config';

/** Options of one read, named as in Powertools Parameters. */
export interface ProviderGetOptions {
  /** Seconds a cached value is served before it is re-read. */
  maxAge?: number;
  /** Read from Consul even if the cache is fresh. */
  forceFetch?: boolean;
  timeoutMs?: number;
}

/** A cached recursive read. */
export interface KvSnapshot {
  values: Readonly<Record<string, string>>;
  index: string;
  fetchedAt: number;
}

/** Reads K/V prefixes from Consul with a per-prefix cache. */
export class ConsulKvProvider {
  private readonly cache = new Map<string, KvSnapshot>();

  constructor(
    private readonly api: ConsulApi,
    private readonly defaultMaxAgeSeconds = 5,
    private readonly now: () => number = Date.now,
  ) {}

  /** One value below `prefix` (read through `getMultiple`, so the whole prefix is cached). */
  async get(prefix: string, name: string, opts: ProviderGetOptions = {}): Promise<string | undefined> {
    return (await this.getMultiple(prefix, opts)).values[name];
  }

  /** All values below `prefix`, keyed by their path relative to it: one recursive read. */
  async getMultiple(prefix: string, opts: ProviderGetOptions = {}): Promise<KvSnapshot> {
    const cached = this.cache.get(prefix);
    const maxAgeMs = (opts.maxAge ?? this.defaultMaxAgeSeconds) * 1000;
    if (cached && !opts.forceFetch && this.now() - cached.fetchedAt < maxAgeMs) return cached;
    const res = await kvGetRecursive(this.api, prefix, { timeoutMs: opts.timeoutMs });
    if (cached && cached.index === res.index) {
      const refreshed = { ...cached, fetchedAt: this.now() };
      // Same index: same data. Keep the values object so callers see it is unchanged.
      refreshed.values = cached.values;
      this.cache.set(prefix, refreshed);
      return refreshed;
    }
    const snapshot = { values: relativeKeys(prefix, res.value), index: res.index, fetchedAt: this.now() };
    this.cache.set(prefix, snapshot);
    return snapshot;
  }
}
