/**
 * One recursive read of a function's K/V prefix. There is no cache here: the
 * config store holds the only copy, and a read whose X-Consul-Index equals the
 * previous one returns the previous snapshot itself, so the store can skip
 * re-validating unchanged config by identity.
 *
 * Reading config needs no leader. The read goes out in the default consistency
 * mode; if it has not answered after `staleAfterMs` (during an election a
 * follower holds it for up to rpc_hold_timeout, 7 s) or it failed, a `?stale`
 * read goes out too, which any server answers, and the first answer wins.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsulApi, Indexed, KvPair } from '../consul/consul-api';
import { ConsulRequestError } from '../consul/errors';
import { kvGetRecursive } from '../consul/kv';
import { relativeKeys } from './resolve-config';

/** How fresh the answer was: `stale` when a `?stale` read answered, with what that server said of its leader. */
export interface ReadFreshness {
  stale: boolean;
  knownLeader?: boolean;
  lastContactMs?: number;
}

/** The values below a prefix, keyed by their path relative to it, with the index of the read. */
export interface KvSnapshot {
  values: Readonly<Record<string, string>>;
  index: string;
  freshness: ReadFreshness;
}

/** Time the default-consistency read gets alone before a stale read joins it. */
export const STALE_AFTER_MS = 200;

/** Reads `prefix` once within `timeoutMs`, stale if need be; returns `previous` unchanged when the index has not moved. */
export async function readKvSnapshot(
  api: ConsulApi,
  prefix: string,
  timeoutMs: number,
  previous?: KvSnapshot,
  staleAfterMs = STALE_AFTER_MS,
): Promise<KvSnapshot> {
  const { res, stale } = await firstAnswer(api, prefix, timeoutMs, staleAfterMs);
  const freshness = { stale, knownLeader: res.knownLeader, lastContactMs: res.lastContactMs };
  // Same index, same values (kept by identity); how fresh this read was is always the latest.
  if (previous && previous.index === res.index) return sameFreshness(previous.freshness, freshness) ? previous : { ...previous, freshness };
  return { values: relativeKeys(prefix, res.value), index: res.index, freshness };
}

function sameFreshness(a: ReadFreshness, b: ReadFreshness): boolean {
  return a.stale === b.stale && a.knownLeader === b.knownLeader && a.lastContactMs === b.lastContactMs;
}

async function firstAnswer(
  api: ConsulApi,
  prefix: string,
  timeoutMs: number,
  staleAfterMs: number,
): Promise<{ res: Indexed<KvPair[]>; stale: boolean }> {
  const started = Date.now();
  const consistent = new AbortController();
  const hedge = new AbortController();
  const first = kvGetRecursive(api, prefix, { timeoutMs, signal: consistent.signal }).then((res) => ({ res, stale: false }));
  let firstEnded = false;
  let firstError: unknown;
  const firstOutcome = first.then(
    () => void (firstEnded = true),
    (err: unknown) => void ((firstEnded = true), (firstError = err)),
  );
  const second = (async () => {
    // Joins after staleAfterMs, or at once if the first read failed sooner.
    await Promise.race([sleep(staleAfterMs, undefined, { signal: hedge.signal }).catch(() => undefined), firstOutcome]);
    if (hedge.signal.aborted || (firstEnded && firstError === undefined)) throw new Error('no stale read needed');
    // A stale read cannot help a token that may not read the prefix.
    if (firstError instanceof ConsulRequestError && firstError.isPermissionDenied) throw firstError;
    const res = await kvGetRecursive(api, prefix, {
      timeoutMs: Math.max(100, timeoutMs - (Date.now() - started)),
      stale: true,
      signal: hedge.signal,
    });
    return { res, stale: true };
  })();
  try {
    return await Promise.any([first, second]);
  } catch {
    // Both failed: the default read's error says most (a 403 stays a 403).
    return await first;
  } finally {
    consistent.abort();
    hedge.abort();
  }
}
