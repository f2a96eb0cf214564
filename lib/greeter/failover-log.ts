/**
 * The "failed over" warning of one gateway runtime, at most one line per interval: during an outage
 * every call fails over, and a line per call would drown the logs. The lines carry how many calls
 * failed over since the last one.
 */
import type { Log } from '../log/logger';

/** Least time between two "failed over" log lines of one runtime. */
const FAILOVER_LOG_INTERVAL_MS = 10_000;

/** Where a call went first and where it was served. */
export interface FailoverWhere {
  service: string;
  from: string;
  to: string | undefined;
}

/** Throttled log of calls served by another datacenter than the one they went to first. */
export class FailoverLog {
  private at = -Infinity;
  private since = 0;

  constructor(
    private readonly log: Log,
    private readonly now: () => number = Date.now,
    private readonly intervalMs = FAILOVER_LOG_INTERVAL_MS,
  ) {}

  /** Counts one failed-over call and logs a warning if the last one is older than the interval. */
  note(where: FailoverWhere): void {
    this.since++;
    if (this.now() - this.at < this.intervalMs) return;
    this.log.warn('calls failed over to another datacenter within the call (every attempt in the first was UNAVAILABLE)', {
      // `service` is the logger's own key (Powertools drops it with a warning): the backend's goes apart.
      backendService: where.service,
      from: where.from,
      to: where.to,
      calls: this.since,
    });
    this.at = this.now();
    this.since = 0;
  }
}
