/** One ServiceWatch per distinct query in a function's runtime, shared by its gRPC resolver and its handlers. */
import type { Log } from '../log/logger';
import { FailoverWatch } from './failover-watch';
import type { HealthSource } from './health-source';
import type { InstanceWatch } from './instance-watch';
import { queryKey, type ServiceQuery } from './service-query';
import { ServiceWatch, type ServiceWatchOptions } from './service-watch';

/** Creates watches on demand and keeps them for the life of the execution environment. */
export class ServiceWatchRegistry {
  private readonly watches = new Map<string, ServiceWatch>();
  private readonly failovers = new Map<string, FailoverWatch>();
  // Query objects are never changed once made (ServiceQuery is built by spreading), so a key per object holds.
  private readonly keys = new WeakMap<ServiceQuery, string>();

  /** `options` is read before every poll, so a config refresh applies without a restart. */
  constructor(
    private readonly source: HealthSource,
    private readonly options: () => ServiceWatchOptions,
    private readonly log: Log,
  ) {}

  /** The running watch for `query`, started on first use; with `failover` datacenters, a FailoverWatch over them. */
  get(query: ServiceQuery): InstanceWatch {
    // Warm invocations pass the same query object each time (their config's): no copy, and its key is kept.
    if (!query.failover) return this.single(query, true);
    const { failover, ...single } = query;
    if (!failover.length) return this.single(single, true);
    const key = this.keyOf(query);
    let watch = this.failovers.get(key);
    if (!watch) {
      const remotes = failover.map((datacenter) => this.single({ ...single, datacenter }, false));
      watch = new FailoverWatch(query, this.single(single, true), remotes);
      this.failovers.set(key, watch);
    }
    return watch;
  }

  private keyOf(query: ServiceQuery): string {
    let key = this.keys.get(query);
    if (key === undefined) this.keys.set(query, (key = queryKey(query)));
    return key;
  }

  private single(query: ServiceQuery, start: boolean): ServiceWatch {
    const key = this.keyOf(query);
    let watch = this.watches.get(key);
    if (!watch) {
      watch = new ServiceWatch(query, this.source, this.options, this.log);
      this.watches.set(key, watch);
    }
    if (start) watch.start();
    return watch;
  }

  /** Tells the source that a call found an instance of `query` (or of its failover datacenters) dead. */
  invalidate(query: ServiceQuery): void {
    if (!this.source.invalidate) return;
    const { failover, ...single } = query;
    this.source.invalidate(single);
    for (const datacenter of failover ?? []) this.source.invalidate({ ...single, datacenter });
  }

  /** The source the watches read (for /status and metrics). */
  get sourceName(): string {
    return this.source.name;
  }

  /** Every single-datacenter watch, for diagnostics. */
  all(): ServiceWatch[] {
    return [...this.watches.values()];
  }

  /** What a gRPC channel-option trace prints for this registry (it is carried in channel options). */
  toJSON(): string {
    return `ServiceWatchRegistry(${this.watches.size} watches)`;
  }

  /** Stops and forgets the single-datacenter watch of `query` unless a failover watch uses it (a cold start's guess that the config did not confirm). */
  discard(query: ServiceQuery): void {
    const key = queryKey(query);
    for (const f of this.failovers.values()) {
      const { failover = [], ...single } = f.query;
      if ([single, ...failover.map((datacenter) => ({ ...single, datacenter }))].some((q) => queryKey(q) === key)) return;
    }
    this.watches.get(key)?.stop();
    this.watches.delete(key);
  }

  /** Stops every watch (tests and graceful shutdown). */
  stopAll(): void {
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
    this.failovers.clear();
  }
}
