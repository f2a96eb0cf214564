/**
 * Consul sessions as a server-held TTL lease: a session with a TTL and no health
 * checks bound (so it lives on the servers, not on the agent that created it),
 * plus a K/V key acquired with it that Consul deletes when the session ends.
 * Renewing is one request any agent forwards to the leader, which resets the
 * session's timer without a Raft write.
 */
import type { CallOptions, ConsulApi } from './consul-api';
import { ConsulRequestError } from './errors';

/** Consul's bounds on a session TTL (10 s to 24 h). */
export const SESSION_TTL_MIN_SECONDS = 10;
export const SESSION_TTL_MAX_SECONDS = 86_400;

/** What a TTL session is created with. */
export interface TtlSessionRequest {
  name: string;
  ttlSeconds: number;
}

/**
 * Creates a session with a TTL, `Behavior = delete` (its keys go with it) and no checks: neither the
 * agent's serfHealth (`NodeChecks: []`) nor service checks, so only the TTL (or a destroy) ends it.
 * Lock delay 0: a re-created session may take the same key back at once. Returns the session id.
 */
export async function createTtlSession(api: ConsulApi, req: TtlSessionRequest, opts: CallOptions = {}): Promise<string> {
  const ttl = Math.min(SESSION_TTL_MAX_SECONDS, Math.max(SESSION_TTL_MIN_SECONDS, Math.round(req.ttlSeconds)));
  const body = { Name: req.name, TTL: `${ttl}s`, Behavior: 'delete', LockDelay: '0s', NodeChecks: [], ServiceChecks: [] };
  const res = (await api.request('consul.session.create', opts, { method: 'PUT', path: '/session/create', body })) as
    { ID?: unknown } | undefined;
  if (typeof res?.ID !== 'string' || !res.ID) throw new ConsulRequestError('consul.session.create', 'answer carried no session id');
  return res.ID;
}

/** Resets the session's TTL; throws ConsulRequestError 404 when the session no longer exists. */
export async function renewSession(api: ConsulApi, id: string, opts: CallOptions = {}): Promise<void> {
  await api.request('consul.session.renew', opts, { method: 'PUT', path: `/session/renew/${encodeURIComponent(id)}` });
}

/** Ends the session; with `Behavior = delete` its keys are deleted in the same write. */
export async function destroySession(api: ConsulApi, id: string, opts: CallOptions = {}): Promise<void> {
  await api.request('consul.session.destroy', opts, { method: 'PUT', path: `/session/destroy/${encodeURIComponent(id)}` });
}

/** Writes `value` at `key` held by session `id`; false when another session holds the key. */
export async function acquireKey(api: ConsulApi, key: string, value: string, id: string, opts: CallOptions = {}): Promise<boolean> {
  const result = await api.call('consul.kv.acquire', opts, (c, ctx) => c.kv.set({ ctx, key, value, acquire: id }));
  return result === true;
}

/** True when Consul answered that the session does not exist (expired, destroyed, or never known). */
export function sessionGone(err: unknown): boolean {
  return (
    err instanceof ConsulRequestError &&
    (err.statusCode === 404 || (err.statusCode === 500 && /invalid session|session .*not found/i.test(err.message)))
  );
}
