/**
 * The lease as a Consul session with a TTL, held by the servers, and a K/V key
 * `<prefix>/<service>/<lease id>` acquired with it that holds the environment's
 * identity. No check is bound to the session, so any agent can renew it (an
 * agent forwards the renewal to the leader, which resets the session's timer
 * without a Raft write): correct when environments reach Consul through a load
 * balancer over several agents. When renewals stop, Consul ends the session
 * between TTL and 2·TTL later and deletes the key with it (`Behavior = delete`).
 */
import type { ConsulApi } from '../consul/consul-api';
import { acquireKey, createTtlSession, destroySession, renewSession, sessionGone, SESSION_TTL_MIN_SECONDS } from '../consul/session';
import { ConsulRequestError } from '../consul/errors';
import { errorSummary, type Log } from '../log/logger';
import type { LeaseIdentity } from './lease-identity';
import type { LeaseSettings, LeaseStore } from './lease-store';

/** The K/V key an environment's session lease holds. */
export function sessionLeaseKey(prefix: string, service: string, id: string): string {
  return `${prefix.replace(/\/+$/, '')}/${service}/${id}`;
}

/** The TTL a session lease asks for: the configured one, raised to Consul's minimum for sessions. */
export function sessionTtlSeconds(ttlSeconds: number): number {
  return Math.max(SESSION_TTL_MIN_SECONDS, ttlSeconds);
}

/** Session mode: create a session and acquire the key, renew the session, destroy it on release. */
export class SessionLeaseStore implements LeaseStore {
  readonly mode = 'session';
  private sessionId?: string;
  private key?: string;

  constructor(
    private readonly api: ConsulApi,
    private readonly log: Log,
  ) {}

  async register(identity: LeaseIdentity, settings: LeaseSettings, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(1, deadline - Date.now());
    const key = sessionLeaseKey(settings.prefix ?? 'lambda-leases', settings.service, identity.id);
    const id = await createTtlSession(
      this.api,
      { name: `lease ${identity.id}`, ttlSeconds: sessionTtlSeconds(settings.ttlSeconds) },
      { timeoutMs: left() },
    );
    let acquired: boolean;
    try {
      acquired = await acquireKey(this.api, key, JSON.stringify({ id: identity.id, service: settings.service, meta: identity.meta }), id, {
        timeoutMs: left(),
      });
    } catch (err) {
      await this.destroyQuietly(id);
      throw err;
    }
    if (!acquired) {
      await this.destroyQuietly(id);
      throw new ConsulRequestError('consul.kv.acquire', `another session holds ${key}`);
    }
    this.sessionId = id;
    this.key = key;
  }

  async renew(identity: LeaseIdentity, settings: LeaseSettings, timeoutMs: number): Promise<boolean> {
    if (this.sessionId === undefined) {
      await this.register(identity, settings, timeoutMs);
      return true;
    }
    try {
      await renewSession(this.api, this.sessionId, { timeoutMs });
      return false;
    } catch (err) {
      // 404: the session expired (the environment was frozen past 2·TTL) or was destroyed; its key
      // went with it. Anything else (429, a timeout, no answer) is left to the lease's backoff.
      if (!sessionGone(err)) throw err;
      this.log.info('lease session gone; creating it again', { leaseId: identity.id, error: errorSummary(err) });
      this.sessionId = undefined;
      await this.register(identity, settings, timeoutMs);
      return true;
    }
  }

  async release(_identity: LeaseIdentity, timeoutMs: number): Promise<void> {
    if (this.sessionId === undefined) return;
    await destroySession(this.api, this.sessionId, { timeoutMs });
    this.sessionId = undefined;
  }

  details(): Record<string, string> {
    return { ...(this.sessionId ? { sessionId: this.sessionId } : {}), ...(this.key ? { key: this.key } : {}) };
  }

  private async destroyQuietly(id: string): Promise<void> {
    await destroySession(this.api, id, { timeoutMs: 1_000 }).catch(() => undefined);
  }
}
