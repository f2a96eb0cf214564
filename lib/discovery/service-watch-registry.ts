/** One ServiceWatch per distinct query in a function's runtime, shared by its gRPC resolver and its handlers. */
import type { Log } from '../log/logger';
import type { HealthSource } from './health-source';
import { queryKey, type ServiceQuery } from './service-query';
import { ServiceWatch, type ServiceWatchOptions } from './service-watch';

/** Creates watches on demand and keeps them for the life of the execution environment. */
export class ServiceWatchRegistry {
  private readonly watches = new Map<string, ServiceWatch>();

  /** `options` is read before every poll, so a config refresh applies without a restart. */
  constructor(
    private readonly source: HealthSource,
    private readonly options: () => ServiceWatchOptions,
    private readonly log: Log,
  ) {}

  /** The running watch for `query`, started on first use. */
  get(query: ServiceQuery): ServiceWatch {
    const key = queryKey(query);
    let watch = this.watches.get(key);
    if (!watch) {
      watch = new ServiceWatch(query, this.source, this.options, this.log);
      this.watches.set(key, watch);
    }
    watch.start();
    return watch;
  }

  /** Every watch, for diagnostics. */
  all(): ServiceWatch[] {
    return [...this.watches.values()];
  }

  /** What a gRPC channel-option trace prints for this registry (it is carried in channel options). */
  toJSON(): string {
    return `ServiceWatchRegistry(${this.watches.size} watches)`;
  }

  /** Stops every watch (tests and graceful shutdown). */
  stopAll(): void {
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
  }
}
