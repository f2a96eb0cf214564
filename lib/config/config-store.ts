/**
 * Loads the gateway config once per execution environment and refreshes it
 * in the background after a max age, never on the hot path.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsulRequestError } from '../consul/errors';
import { errorSummary, logger } from '../log/logger';
import type { ConsulKvProvider, KvSnapshot } from './kv-provider';
import { resolveConfig, type ResolvedConfig } from './resolve-config';
import type { ConfigValues, KeySpecs } from './key-specs';

/** The effective config plus where it came from. */
export interface LoadedConfig<S extends KeySpecs> extends ResolvedConfig<S> {
  /** X-Consul-Index of the K/V read, absent when running on defaults. */
  index?: string;
  loadedAt: number;
}

/** Cold-start and retry timing; the cold-start budget cannot itself come from K/V. */
export interface ConfigStoreOptions<S extends KeySpecs> {
  coldStartBudgetMs: number;
  /** How often to retry Consul while running on defaults because it was unreachable. */
  unreachableRetryMs: number;
  /** Seconds after which a loaded config is re-read in the background (0: never). */
  maxAgeSeconds: (values: ConfigValues<S>) => number;
}

const DEFAULTS = { coldStartBudgetMs: 1_500, unreachableRetryMs: 5_000, maxAgeSeconds: () => 0 };

/** Holds the current config for one K/V prefix and key set. */
export class ConfigStore<S extends KeySpecs> {
  private loaded?: LoadedConfig<S>;
  private snapshot?: KvSnapshot;
  private refreshing?: Promise<void>;
  private readonly opts: ConfigStoreOptions<S>;

  constructor(
    private readonly provider: ConsulKvProvider,
    readonly prefix: string,
    private readonly specs: S,
    opts: Partial<ConfigStoreOptions<S>> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  /** The config, reading Consul only on the first call (bounded by the cold-start budget). */
  async get(): Promise<LoadedConfig<S>> {
    if (this.loaded) {
      this.refreshInBackground();
      return this.loaded;
    }
    const deadline = this.now() + this.opts.coldStartBudgetMs;
    let attempt = 0;
    for (;;) {
      attempt++;
      const left = deadline - this.now();
      try {
        return this.accept(await this.provider.getMultiple(this.prefix, { forceFetch: true, timeoutMs: Math.max(100, left) }));
      } catch (err) {
        if (err instanceof ConsulRequestError && err.isPermissionDenied) {
          // Retrying cannot help: the token lacks key_prefix read on the prefix.
          logger.error('the Consul token may not read the config prefix; starting on defaults', { prefix: this.prefix, error: errorSummary(err) });
          this.loaded = { ...resolveConfig(this.specs, {}, 'default (consul unreachable)'), loadedAt: this.now() };
          return this.loaded;
        }
        if (deadline - this.now() <= 100) {
          logger.error('Consul K/V unreachable at cold start; starting on defaults', { prefix: this.prefix, attempts: attempt, error: errorSummary(err) });
          this.loaded = { ...resolveConfig(this.specs, {}, 'default (consul unreachable)'), loadedAt: this.now() };
          return this.loaded;
        }
        await sleep(Math.min(200 * attempt, deadline - this.now() - 100));
      }
    }
  }

  /** The config without I/O, if loaded. */
  current(): LoadedConfig<S> | undefined {
    return this.loaded;
  }

  /** Resolves when a background refresh in flight (if any) has finished; for tests. */
  async settled(): Promise<void> {
    await this.refreshing;
  }

  private refreshInBackground(): void {
    const cfg = this.loaded;
    if (!cfg || this.refreshing) return;
    const onDefaults = cfg.index === undefined;
    const maxAgeMs = onDefaults ? this.opts.unreachableRetryMs : this.opts.maxAgeSeconds(cfg.values) * 1000;
    if (!onDefaults && maxAgeMs === 0) return;
    if (this.now() - cfg.loadedAt < maxAgeMs) return;
    this.refreshing = this.provider
      .getMultiple(this.prefix, { forceFetch: true, timeoutMs: 2_000 })
      .then((snap) => {
        this.accept(snap);
      })
      .catch((err: unknown) => {
        // Keep serving the last good config (or defaults); try again after another max age.
        if (this.loaded) this.loaded = { ...this.loaded, loadedAt: this.now() };
        logger.warn('config refresh failed; keeping the current config', { prefix: this.prefix, error: errorSummary(err) });
      })
      .finally(() => {
        this.refreshing = undefined;
      });
  }

  private accept(snap: KvSnapshot): LoadedConfig<S> {
    if (this.loaded && this.snapshot && snap.values === this.snapshot.values) {
      // Unchanged index: skip validation and logging.
      this.loaded = { ...this.loaded, loadedAt: this.now() };
      return this.loaded;
    }
    const resolved = resolveConfig(this.specs, snap.values);
    for (const p of resolved.problems) {
      logger.error('invalid config value in Consul K/V; using the default for this key', { key: `${this.prefix}${p.key}`, reason: p.reason });
    }
    if (resolved.unknownKeys.length) logger.warn('unknown config keys ignored', { prefix: this.prefix, keys: resolved.unknownKeys });
    const first = !this.loaded;
    this.snapshot = snap;
    this.loaded = { ...resolved, index: snap.index, loadedAt: this.now() };
    logger.info(first ? 'config loaded from Consul K/V' : 'config changed in Consul K/V', { prefix: this.prefix, index: snap.index, problems: resolved.problems.length });
    return this.loaded;
  }
}
