/**
 * A function's config: read from Consul K/V once per execution environment
 * (bounded by the cold-start budget) and re-read in the background after
 * `configMaxAgeSeconds`, never on the hot path. The only config cache.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isUnreachable, type ConsulApi } from '../consul/consul-api';
import { ConsulRequestError, isThrottled } from '../consul/errors';
import { errorSummary, type Log } from '../log/logger';
import { backoffMs, spreadMs } from '../util/backoff';
import { intKey, type ConfigValues, type KeySpecs } from './key-specs';
import { readKvSnapshot, type KvSnapshot, type ReadFreshness } from './kv-snapshot';
import { resolveConfig, type ResolvedConfig } from './resolve-config';

/** The key every function's key set carries for the store itself. */
export const CONFIG_STORE_KEYS = {
  configMaxAgeSeconds: { schema: intKey(0, 86_400), default: 60, doc: 'Re-read K/V in the background after this age (0: never)' },
} as const;

/** Key sets a ConfigStore can hold. */
export type StoreKeySpecs = KeySpecs & typeof CONFIG_STORE_KEYS;

/** The effective config plus where it came from. */
export interface LoadedConfig<S extends KeySpecs> extends ResolvedConfig<S> {
  /** X-Consul-Index of the K/V read, absent when running on defaults. */
  index?: string;
  /** How fresh the K/V read was (a stale read during an election), absent when running on defaults. */
  freshness?: ReadFreshness;
  loadedAt: number;
}

/** Cold-start and retry timing; these cannot come from K/V, which they guard. */
export interface ConfigStoreTiming {
  coldStartBudgetMs: number;
  /**
   * The part of that budget spent while every Consul address refuses the connection (no answer at
   * all): an agent that is down stays down longer than a cold start can wait, and a gateway with a
   * discovery fallback must answer within ~1 s with all of Consul dead. The default (150 ms) leaves
   * one more attempt, 50 ms after the first.
   */
  noAnswerBudgetMs: number;
  /** How often to retry Consul while running on defaults because it was unreachable. */
  unreachableRetryMs: number;
  /** Timeout of a background re-read. */
  refreshTimeoutMs: number;
}

/** Longest pause between background refreshes while the agent keeps answering 429 (unless the max age is longer). */
const MAX_THROTTLED_BACKOFF_MS = 60_000;

const TIMING: ConfigStoreTiming = { coldStartBudgetMs: 1_500, noAnswerBudgetMs: 150, unreachableRetryMs: 5_000, refreshTimeoutMs: 2_000 };

/** Holds the current config for one K/V prefix and key set. */
export class ConfigStore<S extends StoreKeySpecs> {
  private loaded?: LoadedConfig<S>;
  private snapshot?: KvSnapshot;
  private refreshing?: Promise<void>;
  private firstLoad?: Promise<LoadedConfig<S>>;
  /** Consecutive background refreshes answered 429. */
  private throttledStreak = 0;
  private readonly timing: ConfigStoreTiming;
  private readonly defaults: LoadedConfig<S>;

  constructor(
    private readonly api: ConsulApi,
    readonly prefix: string,
    private readonly specs: S,
    private readonly log: Log,
    timing: Partial<ConfigStoreTiming> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.timing = { ...TIMING, ...timing };
    this.defaults = { ...resolveConfig(specs, {}), loadedAt: 0 };
  }

  /**
   * The config, reading Consul only on the first call (bounded by the cold-start budget); calls made
   * while that read runs (concurrent invocations of one environment) share it.
   */
  get(): Promise<LoadedConfig<S>> {
    const warm = this.cached();
    if (warm) return Promise.resolve(warm);
    this.firstLoad ??= this.loadFirst().finally(() => (this.firstLoad = undefined));
    return this.firstLoad;
  }

  private async loadFirst(): Promise<LoadedConfig<S>> {
    const start = this.now();
    let deadline = start + this.timing.coldStartBudgetMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return this.accept(await readKvSnapshot(this.api, this.prefix, Math.max(100, deadline - this.now())));
      } catch (err) {
        if (err instanceof ConsulRequestError && err.isPermissionDenied) {
          // Retrying cannot help: the token lacks key_prefix read on the prefix.
          this.log.error('the Consul token may not read the config prefix; starting on defaults', {
            prefix: this.prefix,
            error: errorSummary(err),
          });
          return this.startOnDefaults();
        }
        if (isUnreachable(err)) deadline = Math.min(deadline, start + this.timing.noAnswerBudgetMs);
        if (deadline - this.now() <= 100) {
          this.log.error('Consul K/V unreachable at cold start; starting on defaults', {
            prefix: this.prefix,
            attempts: attempt,
            error: errorSummary(err),
          });
          return this.startOnDefaults();
        }
        // After a 429 (the agent's per-IP connection cap) the pause is jittered, so environments
        // refused in the same instant do not come back in the same instant.
        const pause = 200 * attempt + (isThrottled(err) ? spreadMs(200 * attempt) : 0);
        await sleep(Math.min(pause, deadline - this.now() - 100));
      }
    }
  }

  /** The loaded config without waiting, its refresh started in the background when due (as `get` does once loaded); undefined before the first load. */
  cached(): LoadedConfig<S> | undefined {
    if (this.loaded) this.refreshInBackground();
    return this.loaded;
  }

  /** The config without I/O, if loaded. */
  current(): LoadedConfig<S> | undefined {
    return this.loaded;
  }

  /** The current values, or the defaults before the first load; never does I/O. */
  values(): ConfigValues<S> {
    return (this.loaded ?? this.defaults).values;
  }

  /** Resolves when a background refresh in flight (if any) has finished; for tests. */
  async settled(): Promise<void> {
    await this.refreshing;
  }

  private startOnDefaults(): LoadedConfig<S> {
    this.loaded = { ...resolveConfig(this.specs, {}, 'default (consul unreachable)'), loadedAt: this.now() };
    return this.loaded;
  }

  private refreshInBackground(): void {
    const cfg = this.loaded;
    if (!cfg || this.refreshing) return;
    const onDefaults = cfg.index === undefined;
    const maxAgeMs = onDefaults ? this.timing.unreachableRetryMs : cfg.values.configMaxAgeSeconds * 1000;
    if (!onDefaults && maxAgeMs === 0) return;
    if (this.now() - cfg.loadedAt < maxAgeMs) return;
    this.refreshing = readKvSnapshot(this.api, this.prefix, this.timing.refreshTimeoutMs, this.snapshot)
      .then((snap) => {
        this.throttledStreak = 0;
        this.accept(snap);
      })
      .catch((err: unknown) => {
        // Keep serving the last good config (or defaults); try again after another max age. After
        // a 429, back off from one max age, jittered into its upper half and doubling while the agent
        // keeps refusing (up to a minute, or the max age if longer), so a throttled fleet spreads out.
        this.throttledStreak = isThrottled(err) ? this.throttledStreak + 1 : 0;
        const wait = this.throttledStreak
          ? backoffMs(this.throttledStreak, maxAgeMs, Math.max(maxAgeMs, MAX_THROTTLED_BACKOFF_MS))
          : maxAgeMs;
        if (this.loaded) this.loaded = { ...this.loaded, loadedAt: this.now() - maxAgeMs + wait };
        this.log.warn('config refresh failed; keeping the current config', { prefix: this.prefix, error: errorSummary(err) });
      })
      .finally(() => {
        this.refreshing = undefined;
      });
  }

  private accept(snap: KvSnapshot): LoadedConfig<S> {
    if (snap.freshness.stale) {
      // Served by a follower without a leader's confirmation: fine for config, but say how old it may be.
      this.log.warn('config read from a stale server', {
        prefix: this.prefix,
        knownLeader: snap.freshness.knownLeader,
        lastContactMs: snap.freshness.lastContactMs,
      });
    }
    if (this.loaded && snap.values === this.snapshot?.values) {
      // Unchanged index: skip validation and logging.
      this.snapshot = snap;
      this.loaded = { ...this.loaded, freshness: snap.freshness, loadedAt: this.now() };
      return this.loaded;
    }
    const resolved = resolveConfig(this.specs, snap.values);
    for (const p of resolved.problems) {
      this.log.error('invalid config value in Consul K/V; using the default for this key', {
        key: `${this.prefix}${p.key}`,
        reason: p.reason,
      });
    }
    if (resolved.unknownKeys.length) this.log.warn('unknown config keys ignored', { prefix: this.prefix, keys: resolved.unknownKeys });
    const first = !this.loaded;
    this.snapshot = snap;
    this.loaded = { ...resolved, index: snap.index, freshness: snap.freshness, loadedAt: this.now() };
    this.log.info(first ? 'config loaded from Consul K/V' : 'config changed in Consul K/V', {
      prefix: this.prefix,
      index: snap.index,
      problems: resolved.problems.length,
    });
    return this.loaded;
  }
}
