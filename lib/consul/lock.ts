/**
 * A Consul lock (session + K/V acquire) so overlapping runs of a job never both
 * write. The session has a TTL: a crashed holder's lock is released when it
 * expires, and the live holder renews it at half the TTL while it works.
 */
import type { ConsulApi } from './consul-api';
import { errorSummary, type Log } from '../log/logger';
import { ConsulRequestError } from './errors';

/** A held lock. */
export interface HeldLock {
  sessionId: string;
  /** Releases the lock and destroys the session (bounded, never throws). */
  release(): Promise<void>;
}

/** Tries once to take the lock at `key`; undefined when another holder has it. */
export async function tryLock(api: ConsulApi, key: string, ttlSeconds: number, holder: string, log: Log): Promise<HeldLock | undefined> {
  const session = (await api.call('consul.session.create', {}, (c, ctx) =>
    // lockdelay 1s: Consul's default of 15s would keep the lock unusable that long after a crash.
    c.session.create({ ctx, name: `lock ${key} (${holder})`, ttl: `${ttlSeconds}s`, behavior: 'delete', lockdelay: '1s' }),
  )) as { ID?: string };
  const sessionId = session?.ID;
  if (!sessionId) throw new ConsulRequestError('consul.session.create', 'answer carried no session id');
  const destroy = () =>
    api.call('consul.session.destroy', { timeoutMs: 2_000 }, (c, ctx) => c.session.destroy({ ctx, id: sessionId })).catch(() => undefined);
  let acquired: unknown;
  try {
    acquired = await api.call('consul.kv.set', {}, (c, ctx) =>
      c.kv.set({ ctx, key, value: JSON.stringify({ holder, at: new Date().toISOString() }), acquire: sessionId }),
    );
  } catch (err) {
    await destroy();
    throw err;
  }
  if (acquired !== true) {
    await destroy();
    return undefined;
  }
  const renew = setInterval(
    () => {
      void api
        .call('consul.session.renew', { timeoutMs: 2_000 }, (c, ctx) => c.session.renew({ ctx, id: sessionId }))
        .catch((err: unknown) => log.warn('lock session renewal failed', { key, error: errorSummary(err) }));
    },
    (ttlSeconds * 1000) / 2,
  );
  renew.unref();
  return {
    sessionId,
    async release() {
      clearInterval(renew);
      await api
        .call('consul.kv.set', { timeoutMs: 2_000 }, (c, ctx) => c.kv.set({ ctx, key, value: '', release: sessionId }))
        .catch(() => undefined);
      await destroy();
    },
  };
}
