/**
 * The execution environment's lease in Consul: the environment lease (not to be
 * confused with the instance tokens the registry hands to workloads).
 *
 * Registered once on cold start (one bounded request); renewed by invocations
 * at most once per third of the TTL without holding them up; registered again
 * when Consul has forgotten it (agent restart, session expired, or removed
 * while frozen). An environment that Lambda reaps stops renewing and Consul
 * removes its lease: in agent mode after the TTL plus `deregisterAfterSeconds`,
 * in session mode when the session's TTL lapses (see the two LeaseStores).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsulApi } from '../consul/consul-api';
import { ConsulTimeoutError, isThrottled } from '../consul/errors';
import { errorSummary, type Log } from '../log/logger';
import { backoffMs } from '../util/backoff';
import { AgentLeaseStore } from './agent-lease-store';
import { leaseIdentity, renewalDue, type LeaseIdentity } from './lease-identity';
import type { LeaseMode, LeaseSettings, LeaseStore } from './lease-store';
import { SessionLeaseStore } from './session-lease-store';

export type { LeaseMode, LeaseSettings } from './lease-store';

/** What /status shows: `lastRenewedAt` is the last success, `lastAttemptAt` the last try. */
export interface LeaseSnapshot {
  id?: string;
  registered: boolean;
  lastRenewedAt?: string;
  lastAttemptAt?: string;
  lastError?: string;
  /** Consecutive failed registrations or renewals. */
  failures: number;
  /** Successful registrations after the agent had forgotten the lease. */
  reRegistrations: number;
  /** Successful registrations and renewals so far, and failed ones (counters for metrics). */
  renewals: number;
  failedAttempts: number;
  /** Session mode only: the mode, the session id and the K/V key the lease holds. */
  mode?: 'session';
  sessionId?: string;
  key?: string;
}

/** How long a renewal may hold up an invocation: enough to put the request on the wire. */
const RENEWAL_HOLD_MS = 15;
const REGISTER_TIMEOUT_MS = 1_000;
/** Longest pause between tries while the agent stays overloaded. */
const MAX_OVERLOAD_BACKOFF_MS = 300_000;

/** One lease per execution environment. */
export class EnvironmentLease {
  private identity?: LeaseIdentity;
  /** Chosen on the first touch from the settings' mode; config is read once per environment. */
  private store?: LeaseStore;
  private registered = false;
  private lastAttemptAt?: number;
  private lastRenewedAt?: number;
  private lastError?: string;
  private inFlight?: Promise<void>;
  private failures = 0;
  private reRegistrations = 0;
  private renewals = 0;
  private failedAttempts = 0;
  /** Consecutive failures that said the agent is overloaded, and when the next try may go out. */
  private overloads = 0;
  private notBefore?: number;

  constructor(
    private readonly api: ConsulApi,
    private readonly log: Log,
    private readonly coldStartAt = new Date(),
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Called by every invocation: registers on the first, renews when due, never throws.
   * `waitOnColdStart: false` sends the first registration without waiting for it
   * (Consul already failed this cold start once; the answer must not wait twice).
   */
  async touch(settings: LeaseSettings, waitOnColdStart = true): Promise<void> {
    const coldStart = this.identity === undefined;
    this.identity ??= leaseIdentity(settings.service, this.coldStartAt);
    this.store ??= this.createStore(settings.mode ?? 'agent');
    if (!this.isDue(settings) || this.inFlight) return;
    this.lastAttemptAt = this.now();
    const work = (this.registered ? this.renew(settings) : this.register(settings))
      .then(() => {
        this.overloads = 0;
        this.notBefore = undefined;
        this.lastRenewedAt = this.now();
        this.lastError = undefined;
        this.failures = 0;
        this.renewals++;
      })
      .catch((err: unknown) => {
        this.failures++;
        this.failedAttempts++;
        this.lastError = errorSummary(err).message;
        // An overloaded agent (429: its per-IP connection cap; or no answer in time) is met by the
        // whole fleet at once: back off exponentially from a third of the TTL, with jitter, so the
        // fleet neither comes back in step nor keeps a struggling agent busy with registrations.
        if (agentOverloaded(err)) {
          this.overloads++;
          this.notBefore = this.now() + backoffMs(this.overloads, (settings.ttlSeconds * 1000) / 3, MAX_OVERLOAD_BACKOFF_MS);
        } else {
          this.overloads = 0;
          this.notBefore = undefined;
        }
        if (this.failures === 1 || this.failures % 10 === 0)
          this.log.warn('lease registration or renewal failed', {
            leaseId: this.identity?.id,
            failures: this.failures,
            error: errorSummary(err),
          });
      })
      .finally(() => (this.inFlight = undefined));
    this.inFlight = work;
    // The cold start waits for its one bounded registration; later work only briefly.
    if (coldStart && waitOnColdStart) await work;
    else await Promise.race([work, sleep(RENEWAL_HOLD_MS)]);
  }

  /** True when `touch` would send something now: the first registration, or a renewal that is due and not under way. */
  needsTouch(settings: LeaseSettings): boolean {
    return this.identity === undefined || (!this.inFlight && this.isDue(settings));
  }

  private isDue(settings: LeaseSettings): boolean {
    // Due is measured from the last attempt, so an outage costs one try per TTL/3, not one per invocation.
    // While the agent is overloaded the backoff decides when to try again, otherwise a third of the TTL.
    return this.notBefore !== undefined ? this.now() >= this.notBefore : renewalDue(this.lastAttemptAt, this.now(), settings.ttlSeconds);
  }

  /** Removes the lease, bounded in time; for SIGTERM. */
  async release(timeoutMs: number): Promise<void> {
    if (!this.registered || !this.identity || !this.store) return;
    await this.store.release(this.identity, timeoutMs);
    this.registered = false;
  }

  /** Id and counters, for /status and tests. */
  snapshot(): LeaseSnapshot {
    const iso = (t?: number) => (t === undefined ? undefined : new Date(t).toISOString());
    return {
      id: this.identity?.id,
      registered: this.registered,
      lastRenewedAt: iso(this.lastRenewedAt),
      lastAttemptAt: iso(this.lastAttemptAt),
      lastError: this.lastError,
      failures: this.failures,
      reRegistrations: this.reRegistrations,
      renewals: this.renewals,
      failedAttempts: this.failedAttempts,
      ...(this.store?.mode === 'session' ? { mode: 'session' as const, ...this.store.details() } : {}),
    };
  }

  private async register(settings: LeaseSettings): Promise<void> {
    const identity = this.identity ?? leaseIdentity(settings.service, this.coldStartAt);
    await this.currentStore().register(identity, settings, REGISTER_TIMEOUT_MS);
    this.registered = true;
  }

  private async renew(settings: LeaseSettings): Promise<void> {
    const identity = this.identity ?? leaseIdentity(settings.service, this.coldStartAt);
    if (await this.currentStore().renew(identity, settings, REGISTER_TIMEOUT_MS)) this.reRegistrations++;
  }

  private currentStore(): LeaseStore {
    this.store ??= this.createStore('agent');
    return this.store;
  }

  private createStore(mode: LeaseMode): LeaseStore {
    return mode === 'session' ? new SessionLeaseStore(this.api, this.log) : new AgentLeaseStore(this.api, this.log);
  }
}

/** True for a 429 or a request the agent did not answer in time: it is there, but overloaded. */
function agentOverloaded(err: unknown): boolean {
  return isThrottled(err) || (err instanceof ConsulTimeoutError && !/aborted/.test(err.message));
}
