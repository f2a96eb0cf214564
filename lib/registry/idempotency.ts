/**
 * Idempotency-Key records in Consul K/V, so a retried `POST /instances` returns
 * the instance the first attempt created instead of a second one. The record
 * is claimed with check-and-set before registering, which also settles two
 * concurrent retries: one claims, the other returns the winner's instance.
 */
import { createHash } from 'node:crypto';
import type { CallOptions, ConsulApi } from '../consul/consul-api';
import { kvCas, kvDelete, kvGet } from '../consul/kv';
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
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Result of a claim: ours, or the live record someone else wrote first. */
export type ClaimResult = { claimed: true } | { claimed: false; existing: IdempotencyRecord };

/**
 * Claims `kvKey` for `record`. A live record is returned instead; an expired one,
 * or one whose instance is gone (`stillExists` says no), is replaced.
 */
export async function claimIdempotencyKey(api: ConsulApi, kvKey: string, record: IdempotencyRecord, stillExists: (r: IdempotencyRecord) => Promise<boolean>, now = Date.now(), opts: CallOptions = {}): Promise<ClaimResult> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = await kvGet(api, kvKey, opts);
    const existing = current ? parseRecord(current.value) : undefined;
    if (existing && existing.expiresAt > now && (await stillExists(existing))) return { claimed: false, existing };
    if (await kvCas(api, kvKey, JSON.stringify(record), current?.modifyIndex ?? 0, opts)) return { claimed: true };
  }
  throw new RegistryError('idempotency_conflict', 'concurrent requests with this Idempotency-Key kept conflicting; retry');
}

/** Forgets a claim (the registration it guarded failed, or the instance was deleted). */
export async function releaseIdempotencyKey(api: ConsulApi, kvKey: string, opts: CallOptions = {}): Promise<void> {
  await kvDelete(api, kvKey, opts);
}

function parseRecord(text: string): IdempotencyRecord | undefined {
  try {
    const r = JSON.parse(text) as Partial<IdempotencyRecord>;
    if (typeof r.id === 'string' && typeof r.service === 'string' && typeof r.requestHash === 'string' && typeof r.expiresAt === 'number') {
      return { id: r.id, service: r.service, requestHash: r.requestHash, expiresAt: r.expiresAt, createdAt: r.createdAt ?? 0 };
    }
  } catch {
    // a corrupt record is treated as absent and overwritten
  }
  return undefined;
}
