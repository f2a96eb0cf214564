/**
 * Idempotency-Key records in Consul K/V, so a retried `POST /instances` returns
 * the instance the first attempt created instead of a second one.
 *
 * A record goes through two states, each written with check-and-set:
 * - `pending`: claimed by one request, whose instance is not registered yet. It is that
 *   request's until `pendingUntil` (longer than any registration may take); other requests
 *   with the key wait for it (a blocking query on the key, bounded) instead of overwriting it.
 * - `done`: the instance is registered; every later request gets it back.
 * A pending record past `pendingUntil` belongs to a request that died: if its instance was
 * registered after all, the record is completed with it; otherwise it is taken over.
 * So, however many requests race, one instance per key, and every caller gets its id.
 */
import { createHash } from 'node:crypto';
import type { CallOptions, ConsulApi, KvPair } from '../consul/consul-api';
import { kvCas, kvDelete, kvGet, kvGetAfter } from '../consul/kv';
import { RegistryError } from './errors';

/** Where the records live; the registry's token may write only here in K/V. */
export const IDEMPOTENCY_PREFIX = 'registry/idempotency/';

/** What a record remembers about the first request. */
export interface IdempotencyRecord {
  id: string;
  service: string;
  requestHash: string;
  expiresAt: number;
  createdAt: number;
  /** Records written before pending claims existed have none and count as `done`. */
  state: 'pending' | 'done';
  /** Epoch ms until which a pending claim is its owner's. */
  pendingUntil?: number;
}

/**
 * The K/V key for a client's Idempotency-Key, from a keyed digest (`keyedDigest`
 * is an HMAC with the registry's secret): the record cannot be found, and the
 * client's key cannot be guessed back, by anyone who can read K/V or meta.
 */
export function idempotencyKvKey(keyedDigest: string): string {
  return `${IDEMPOTENCY_PREFIX}${createHash('sha256').update(keyedDigest).digest('hex')}`;
}

/** Idempotency-Key values we accept: long enough that they cannot be guessed (≥ 16 characters). */
export const IDEMPOTENCY_KEY_FORMAT = /^[A-Za-z0-9_.:-]{16,128}$/;

/** A stable hash of the validated request, to spot a key reused for a different request. */
export function requestHash(request: unknown): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Result of a claim: ours (register, then `completeIdempotencyKey`), or the record to answer from. */
export type ClaimResult = { claimed: true } | { claimed: false; existing: IdempotencyRecord };

/** How a claim decides and how long it may wait. */
export interface ClaimOptions {
  /** Whether the record's instance is still registered (a record whose instance is gone is replaced). */
  stillExists: (r: IdempotencyRecord) => Promise<boolean>;
  now?: () => number;
  /** How long this request waits, in all, for another request's pending claim; then idempotency_conflict. */
  waitMs: number;
  call?: CallOptions;
}

/**
 * Claims `kvKey` with `record` (which must be `pending`). Returns the record to answer from
 * instead when a live `done` one exists, or when a pending one came with a different request;
 * waits for a pending one of the same request. Throws idempotency_conflict when the wait runs out.
 */
export async function claimIdempotencyKey(api: ConsulApi, kvKey: string, record: IdempotencyRecord, o: ClaimOptions): Promise<ClaimResult> {
  const now = o.now ?? Date.now;
  // The wait is bounded on the real clock, whatever clock the records are stamped with.
  const until = Date.now() + o.waitMs;
  const opts = o.call ?? {};
  let current = await kvGet(api, kvKey, opts);
  for (;;) {
    const existing = current ? parseRecord(current.value) : undefined;
    const t = now();
    const replace = () => kvCas(api, kvKey, JSON.stringify(record), current?.modifyIndex ?? 0, opts);
    if (!existing || (existing.state === 'done' && existing.expiresAt <= t)) {
      if (await replace()) return { claimed: true };
    } else if (existing.state === 'done') {
      if (await o.stillExists(existing)) return { claimed: false, existing };
      if (await replace()) return { claimed: true };
    } else if (existing.requestHash !== record.requestHash) {
      return { claimed: false, existing };
    } else if ((existing.pendingUntil ?? 0) <= t) {
      // Its owner died or overran: keep its instance if it got that far, else take the key over.
      if (await o.stillExists(existing)) {
        const { pendingUntil: _gone, ...rest } = existing;
        const done: IdempotencyRecord = { ...rest, state: 'done' };
        if (await kvCas(api, kvKey, JSON.stringify(done), current?.modifyIndex ?? 0, opts)) return { claimed: false, existing: done };
      } else if (await replace()) return { claimed: true };
    } else {
      // Another request is registering this very request: wait for its answer, never overwrite it.
      const left = Math.min(until - Date.now(), (existing.pendingUntil ?? 0) - t);
      if (left <= 0 || Date.now() >= until) break;
      const before = current?.modifyIndex ?? 0;
      current = await kvGetAfter(api, kvKey, before, left, opts);
      // An agent may answer a blocking query early with nothing new; do not spin on it.
      if ((current?.modifyIndex ?? 0) === before && current) await pause(25);
      continue;
    }
    if (Date.now() >= until) break;
    // Lost a check-and-set: someone wrote in between. Read again and decide again.
    current = await kvGet(api, kvKey, opts);
  }
  throw new RegistryError('idempotency_conflict', 'another request with this Idempotency-Key is still registering its instance; retry');
}

/**
 * Marks our pending claim done once its instance is registered. False when the claim is no
 * longer ours (it ran past `pendingUntil` and another request took it over).
 */
export async function completeIdempotencyKey(
  api: ConsulApi,
  kvKey: string,
  record: IdempotencyRecord,
  opts: CallOptions = {},
): Promise<boolean> {
  const { pendingUntil: _gone, ...rest } = record;
  const done: IdempotencyRecord = { ...rest, state: 'done' };
  for (let attempt = 0; attempt < 3; attempt++) {
    const current: KvPair | undefined = await kvGet(api, kvKey, opts);
    const existing = current ? parseRecord(current.value) : undefined;
    if (!current || !existing || existing.id !== record.id) return false;
    if (existing.state === 'done') return true;
    if (await kvCas(api, kvKey, JSON.stringify(done), current.modifyIndex, opts)) return true;
  }
  return false;
}

/** Forgets a claim (the registration it guarded failed, or the instance was deleted). */
export async function releaseIdempotencyKey(api: ConsulApi, kvKey: string, opts: CallOptions = {}): Promise<void> {
  await kvDelete(api, kvKey, opts);
}

/**
 * Forgets our pending claim if it is still ours. Read, compare, delete: another request may take a
 * claim over only after its `pendingUntil`, far beyond the time a failing registration takes here.
 */
export async function releaseOwnClaim(api: ConsulApi, kvKey: string, id: string, opts: CallOptions = {}): Promise<void> {
  const current = await kvGet(api, kvKey, opts);
  const existing = current ? parseRecord(current.value) : undefined;
  if (existing?.id === id && existing.state === 'pending') await kvDelete(api, kvKey, opts);
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function parseRecord(text: string): IdempotencyRecord | undefined {
  try {
    const r = JSON.parse(text) as Partial<IdempotencyRecord>;
    if (typeof r.id === 'string' && typeof r.service === 'string' && typeof r.requestHash === 'string' && typeof r.expiresAt === 'number') {
      const pending = r.state === 'pending' && typeof r.pendingUntil === 'number';
      return {
        id: r.id,
        service: r.service,
        requestHash: r.requestHash,
        expiresAt: r.expiresAt,
        createdAt: r.createdAt ?? 0,
        state: pending ? 'pending' : 'done',
        ...(pending ? { pendingUntil: r.pendingUntil } : {}),
      };
    }
  } catch {
    // a corrupt record is treated as absent and overwritten
  }
  return undefined;
}
