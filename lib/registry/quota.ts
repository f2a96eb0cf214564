/**
 * Per-API-key quotas on live instances, in total and per service (without them one key
 * holder could register 1,500 black-hole instances).
 *
 * What counts: the instances on the registry's agent whose `lease-owner` meta is the
 * caller's owner digest, plus the registrations in flight for that caller. Counting the
 * agent alone would be racy: 50 parallel requests would all see room and all register.
 * So each registration first reserves a slot in one K/V record per caller, written with
 * check-and-set; the record holds the recent reservations (id, service, until when), and
 * the count is the union of both by instance id. A reservation is dropped once its time is up.
 *
 * The bound: live + in flight never exceeds a limit for a caller, as long as every
 * registration goes through the agent the count reads, and a registration plus a reservation's
 * retries (`budgetMs`) take less than a reservation lasts (`registrationPendingSeconds`, set it
 * above the function's timeout).
 * A registration that failed holds its slot until the reservation's time is up (it errs
 * on the side of fewer instances).
 */
import { createHash } from 'node:crypto';
import { agentServices } from '../consul/agent';
import type { CallOptions, ConsulApi, KvPair } from '../consul/consul-api';
import { kvCas, kvGet } from '../consul/kv';
import { RegistryError } from './errors';

/** Where the per-caller reservation records live (the registry's token writes here). */
export const QUOTA_PREFIX = 'registry/quota/';

/** Meta the registry writes on every instance: whose API key registered it (a digest, not the key id). */
export const OWNER_META = 'lease-owner';

/** The caller's limits. */
export interface QuotaLimits {
  total: number;
  perService: number;
}

/** One registration in flight. */
interface Reservation {
  id: string;
  service: string;
  until: number;
}

/**
 * The owner digest of an API key id: keyed (`keyedDigest` is an HMAC with the registry's
 * secret), so meta and K/V readers learn nothing about which key registered what.
 */
export function ownerDigest(keyedDigest: string): string {
  return createHash('sha256').update(keyedDigest).digest('hex').slice(0, 32);
}

/** What a reservation needs. */
export interface ReserveOptions {
  owner: string;
  id: string;
  service: string;
  limits: QuotaLimits;
  /** How long the reservation holds if its instance never appears. */
  reservationMs: number;
  /** How long to keep retrying a lost check-and-set before answering busy. */
  budgetMs: number;
  now?: () => number;
  call?: CallOptions;
}

/**
 * Reserves a slot for instance `id` of `service`, or throws RegistryError `quota_exceeded`
 * naming the limit that is full (`idempotency_conflict` when concurrent requests of the same
 * caller kept winning the record for the whole budget).
 */
export async function reserveQuota(api: ConsulApi, o: ReserveOptions): Promise<void> {
  const now = o.now ?? Date.now;
  const call = o.call ?? {};
  const key = `${QUOTA_PREFIX}${o.owner}`;
  // Instances registered after this read were reserved first, so the record covers them.
  const live = new Map((await agentServices(api, `Meta["${OWNER_META}"] == "${o.owner}"`, call)).map((s) => [s.id, s.service]));
  // Bounded on the real clock, whatever clock stamps the reservations.
  const until = Date.now() + o.budgetMs;
  for (let attempt = 0; ; attempt++) {
    const current = await kvGet(api, key, call);
    const t = now();
    // A reservation stays until its time is up, even once its instance is live: a request whose
    // agent read came before that registration must still count it.
    const pending = parseReservations(current).filter((r) => r.until > t);
    const all = new Map(live);
    for (const r of pending) all.set(r.id, r.service);
    if (all.size >= o.limits.total)
      throw exceeded(`this API key already has ${all.size} live or pending instances (limit ${o.limits.total})`);
    const ofService = [...all.values()].filter((s) => s === o.service).length;
    if (ofService >= o.limits.perService)
      throw exceeded(
        `this API key already has ${ofService} live or pending instances of ${o.service} (limit ${o.limits.perService} per service)`,
      );
    const next = JSON.stringify({ reservations: [...pending, { id: o.id, service: o.service, until: t + o.reservationMs }] });
    if (await kvCas(api, key, next, current?.modifyIndex ?? 0, call)) return;
    if (Date.now() >= until) break;
    // Lost to another registration of the same caller: back off a little, with jitter, and count again.
    await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 10 * 2 ** Math.min(attempt, 5))));
  }
  throw new RegistryError('idempotency_conflict', 'too many registrations at once for this API key; retry');
}

/** Frees the slot of a deleted instance at once (best effort: an unreleased one frees when its time is up). */
export async function releaseQuota(api: ConsulApi, owner: string, id: string, call: CallOptions = {}): Promise<void> {
  const key = `${QUOTA_PREFIX}${owner}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = await kvGet(api, key, call);
    const reservations = parseReservations(current);
    if (!current || !reservations.some((r) => r.id === id)) return;
    if (await kvCas(api, key, JSON.stringify({ reservations: reservations.filter((r) => r.id !== id) }), current.modifyIndex, call)) return;
  }
}

function exceeded(message: string): RegistryError {
  return new RegistryError('quota_exceeded', `${message}; delete instances or wait for them to expire`);
}

function parseReservations(pair: KvPair | undefined): Reservation[] {
  if (!pair) return [];
  try {
    const v = JSON.parse(pair.value) as { reservations?: unknown };
    if (!Array.isArray(v.reservations)) return [];
    return v.reservations.filter(
      (r): r is Reservation =>
        !!r &&
        typeof r === 'object' &&
        typeof (r as Reservation).id === 'string' &&
        typeof (r as Reservation).service === 'string' &&
        typeof (r as Reservation).until === 'number',
    );
  } catch {
    return []; // a corrupt record counts no reservations; the agent's count still holds
  }
}
