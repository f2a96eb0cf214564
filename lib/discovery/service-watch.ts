/**
 * Follows the passing instances of one service with Consul blocking queries.
 *
 * Lives in the function's runtime (through ServiceWatchRegistry) so warm invocations read
 * the cached list and make no Consul request while nothing changes. Lambda
 * freezes the process between invocations, which can leave a long poll hanging
 * on a dead socket: `ensureFresh()` spots a poll older than Consul could ever
 * take and restarts it, while callers keep the last list.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServiceInstance } from '../consul/service-instances';
import { errorSummary, type Log } from '../log/logger';
import { ConsulRequestError, isThrottled } from '../consul/errors';
import { spreadMs, throttledBackoffMs } from '../util/backoff';
import { delayAfterSuccess, isPollStale, nextIndex } from './blocking-query';
import type { HealthSource } from './health-source';
import { sameInstances, type ServiceQuery } from './service-query';

/** Tuning of a watch, read from the function's config before every poll. */
export interface ServiceWatchOptions {
  waitSeconds: number;
  minIntervalMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /**
   * Upper bound of a random pause before the next poll after a blocking poll answered with a
   * change (default REPOLL_SPREAD_MS). A change answers every environment's watch at once; the
   * spread keeps them from all asking again in the same instant. The change itself is not delayed, and
   * a change that removed instances is followed at once (losses come in series when a zone fails).
   */
  repollSpreadMs?: number;
}

/** Default of ServiceWatchOptions.repollSpreadMs. */
export const REPOLL_SPREAD_MS = 1_000;

/** What /status shows about a watch. */
export interface ServiceWatchSnapshot {
  query: ServiceQuery;
  index?: string;
  instances?: readonly ServiceInstance[];
  lastUpdateAt?: string;
  lastError?: string;
  polls: number;
  restarts: number;
  /** Polls the source refused as throttled (a Consul 429, Cloud Map's RequestLimitExceeded). */
  throttled: number;
}

type Listener = (instances: readonly ServiceInstance[]) => void;

/** A blocking-query loop over one ServiceQuery with a cached result. */
export class ServiceWatch {
  private instances?: ServiceInstance[];
  private index?: string;
  private lastUpdateAt?: number;
  private lastError?: string;
  private pollStartedAt?: number;
  private controller?: AbortController;
  private generation = 0;
  private running = false;
  private polls = 0;
  private restarts = 0;
  private throttled = 0;
  private readonly listeners = new Set<Listener>();
  // Settles when the poll in flight ends, answer or error, and is then replaced: a wait for
  // data gives up after the next poll fails, not after one that failed before it began.
  private pollEnd = deferred();
  /** Whether the last failed poll was an answer that may pass on retry (see waitForFirst). */
  private lastFailureTransient = false;

  constructor(
    readonly query: ServiceQuery,
    private readonly source: HealthSource,
    private readonly options: () => ServiceWatchOptions,
    private readonly log: Log,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached passing instances, or undefined before the first answer. */
  current(): readonly ServiceInstance[] | undefined {
    return this.instances;
  }

  /** Starts the loop if it is not running. */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop(++this.generation);
  }

  /** Stops the loop and cancels the poll in flight. */
  stop(): void {
    this.running = false;
    this.generation++;
    this.controller?.abort();
  }

  /** Restarts a poll that outlived any answer Consul could give; returns true if it did. */
  ensureFresh(): boolean {
    if (!this.running) {
      this.start();
      return true;
    }
    if (!isPollStale(this.pollStartedAt, this.now(), this.options().waitSeconds)) return false;
    this.log.warn('restarting a stale Consul poll (likely a frozen execution environment)', { query: this.query });
    this.restarts++;
    this.controller?.abort();
    void this.loop(++this.generation);
    return true;
  }

  /** Resolves with the instances once known; undefined if the next poll fails or `timeoutMs` passes first. */
  async waitForFirst(timeoutMs: number): Promise<readonly ServiceInstance[] | undefined> {
    if (this.instances) return this.instances;
    this.start();
    const cancel = new AbortController();
    let timedOut = false;
    const timer = sleep(timeoutMs, undefined, { signal: cancel.signal }).then(
      () => void (timedOut = true),
      () => undefined,
    );
    try {
      // An agent that answered with a 5xx (its servers are electing a leader) or a 429 is likely to
      // answer the retry that follows a short backoff: keep waiting, within the time given. No answer
      // at all, or a refusal (403), ends the wait at once: the caller answers 503 without delay.
      do await Promise.race([this.pollEnd.promise, timer]);
      while (!this.instances && !timedOut && this.lastFailureTransient);
    } finally {
      cancel.abort();
    }
    return this.instances;
  }

  /** Calls `fn` with every changed list; returns an unsubscribe function. */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** A copy of the state for diagnostics. */
  snapshot(): ServiceWatchSnapshot {
    return {
      query: this.query,
      index: this.index,
      instances: this.instances,
      lastUpdateAt: this.lastUpdateAt ? new Date(this.lastUpdateAt).toISOString() : undefined,
      lastError: this.lastError,
      polls: this.polls,
      restarts: this.restarts,
      throttled: this.throttled,
    };
  }

  private async loop(gen: number): Promise<void> {
    let failures = 0;
    while (gen === this.generation) {
      const controller = new AbortController();
      this.controller = controller;
      const startedAt = this.now();
      this.pollStartedAt = startedAt;
      const opts = this.options();
      let pause: number;
      try {
        this.polls++;
        const res = await this.source.passingInstances(this.query, this.index, opts.waitSeconds, controller.signal);
        if (gen !== this.generation) return;
        failures = 0;
        this.lastError = undefined;
        const blocked = this.index !== undefined;
        const previous = this.index;
        this.index = nextIndex(this.index, res.index);
        const before = this.instances?.length ?? 0;
        this.accept(res.value);
        pause = delayAfterSuccess(this.now() - startedAt, opts.minIntervalMs);
        // A list that lost instances is asked again at once: the next loss (the last local instance,
        // which switches to a failover datacenter) must not wait out the spread.
        if (blocked && this.index !== previous && res.value.length >= before) pause += spreadMs(opts.repollSpreadMs ?? REPOLL_SPREAD_MS);
      } catch (err) {
        if (gen !== this.generation) return;
        failures++;
        this.lastError = errorSummary(err).message;
        const throttled = isThrottledError(err);
        this.lastFailureTransient =
          throttled || (err instanceof ConsulRequestError && err.statusCode !== undefined && err.statusCode >= 500);
        if (throttled) this.throttled++;
        // Log the first failure of a streak and then every tenth, not every retry.
        if (failures === 1 || failures % 10 === 0)
          this.log.warn(
            throttled
              ? 'Consul throttled the service poll (429); backing off, serving the cached list'
              : 'Consul service poll failed; serving the cached list',
            { query: this.query, failures, error: errorSummary(err) },
          );
        // A 429 (the agent's per-IP connection cap) backs off from a longer first step, with jitter.
        pause = throttledBackoffMs(failures, opts.backoffBaseMs, opts.backoffMaxMs, throttled);
        this.endPoll();
      } finally {
        if (this.controller === controller) this.pollStartedAt = undefined;
      }
      if (pause > 0) {
        try {
          await sleep(pause, undefined, { signal: controller.signal, ref: false });
        } catch {
          return; // aborted by stop() or a restart, which runs its own loop
        }
      }
    }
  }

  private accept(next: ServiceInstance[]): void {
    const first = this.instances === undefined;
    if (!first && sameInstances(this.instances ?? [], next)) return;
    this.instances = next;
    this.lastUpdateAt = this.now();
    this.log.info('service instances changed', { query: this.query, count: next.length, index: this.index });
    for (const fn of this.listeners) fn(next);
    if (first) this.endPoll();
  }

  private endPoll(): void {
    this.pollEnd.resolve();
    this.pollEnd = deferred();
  }
}

/**
 * True for a Consul 429, or any source's error that carries `throttled: true` (Cloud Map's
 * RequestLimitExceeded, through the cloudmap source): the watch backs off from a longer first step.
 */
export function isThrottledError(err: unknown): boolean {
  return isThrottled(err) || (typeof err === 'object' && err !== null && (err as { throttled?: unknown }).throttled === true);
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
