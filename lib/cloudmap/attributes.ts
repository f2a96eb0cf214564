/**
 * Cloud Map instance attributes for a Consul instance, within the limits of
 * RegisterInstance: at most 30 attributes, keys up to 255 characters of
 * printable ASCII, values up to 1,024, and at most 5,000 characters for all
 * keys and values together. Whatever does not fit is dropped and counted, so a
 * chatty Consul service cannot make its registration fail.
 *
 * The result is deterministic (sorted), so a plan comparing it with what Cloud
 * Map holds sees no change when Consul did not change.
 */
import type { DesiredInstance } from './types';

/** Most attributes one instance may carry, reserved AWS_* ones included. */
export const MAX_ATTRIBUTES = 30;
/** Longest attribute key. */
export const MAX_KEY_LENGTH = 255;
/** Longest attribute value. */
export const MAX_VALUE_LENGTH = 1024;
/** Most characters of all keys and values of one RegisterInstance request. */
export const MAX_TOTAL_CHARS = 5000;

/** Initial custom health on registration; AWS honours it, moto ignores it. */
export const INIT_HEALTH_KEY = 'AWS_INIT_HEALTH_STATUS';
/** Attribute holding the Consul tags, sorted and joined with commas. */
export const TAGS_KEY = 'consul-tags';
/** Prefix of the attributes holding Consul service meta. */
export const META_PREFIX = 'consul-meta-';

// The instance registry's own meta (REGISTRATION_META in lib/consul/registration-meta.ts:
// check kind, TTL, idempotency digest, ...) is private to Consul: GET /instances hides it and
// it must never reach Cloud Map either. A local copy of the prefix because cloudmap stands
// alone among the adapters (docs/architecture.md); test/unit/cloudmap/attributes.test.ts holds
// it to REGISTRATION_META. Any case, as the registry reserves the prefix in any case.
const PRIVATE_META = /^lease-/i;

/** True for a Consul meta key that is never published as an attribute (the registry's `lease-*`). */
export function isPrivateMeta(key: string): boolean {
  return PRIVATE_META.test(key);
}

// Cloud Map's AttributeKey / AttributeValue patterns: printable ASCII, and a
// value may hold inner spaces or tabs but not start or end with them.
const KEY_PATTERN = /^[!-~]+$/;
const VALUE_PATTERN = /^(?:[!-~](?:[ \t!-~]*[!-~])?)?$/;

// Room kept for AWS_INIT_HEALTH_STATUS so the budget is the same whether or
// not a registration carries it, which keeps the result stable across runs.
const INIT_RESERVE = { count: 1, chars: INIT_HEALTH_KEY.length + 'UNHEALTHY'.length };

/** The attributes of an instance and how many Consul tags/meta entries were left out. */
export interface InstanceAttributes {
  attributes: Record<string, string>;
  dropped: number;
}

/** Builds the Cloud Map attributes of `inst`: address, port, tags and meta (private meta left out), within the limits. */
export function instanceAttributes(inst: DesiredInstance): InstanceAttributes {
  const kept = new Map<string, string>([
    ['AWS_INSTANCE_IPV4', inst.ipv4],
    ['AWS_INSTANCE_PORT', String(inst.port)],
  ]);
  let chars = INIT_RESERVE.chars;
  for (const [k, v] of kept) chars += k.length + v.length;
  let dropped = 0;
  const fits = (key: string, value: string) =>
    kept.size + INIT_RESERVE.count < MAX_ATTRIBUTES && chars + key.length + value.length <= MAX_TOTAL_CHARS;
  const add = (key: string, value: string) => {
    kept.set(key, value);
    chars += key.length + value.length;
  };

  const tags = joinTags(inst.tags);
  dropped += tags.dropped;
  if (tags.value !== undefined) {
    if (fits(TAGS_KEY, tags.value)) add(TAGS_KEY, tags.value);
    else dropped += tags.count;
  }

  for (const [k, v] of sortedEntries(inst.meta)) {
    // Left out by rule, not for lack of room: not counted as dropped.
    if (isPrivateMeta(k)) continue;
    const key = META_PREFIX + k;
    if (validKey(key) && validValue(v) && fits(key, v)) add(key, v);
    else dropped++;
  }
  return { attributes: Object.fromEntries(sortedEntries(Object.fromEntries(kept))), dropped };
}

/** True when two attribute maps hold the same pairs, AWS_INIT_HEALTH_STATUS aside. */
export function sameAttributes(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).filter((k) => k !== INIT_HEALTH_KEY);
  const kb = Object.keys(b).filter((k) => k !== INIT_HEALTH_KEY);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && b[k] === a[k]);
}

/** The tags as one attribute value; tags with commas or outside the value pattern are dropped. */
function joinTags(tags: readonly string[]): { value?: string; count: number; dropped: number } {
  const unique = [...new Set(tags)].sort(byCodeUnit);
  const kept: string[] = [];
  let length = 0;
  let dropped = 0;
  for (const t of unique) {
    // A comma inside a tag could not be told apart from the separator when read back.
    const extra = t.length + (kept.length > 0 ? 1 : 0);
    if (t === '' || t.includes(',') || !VALUE_PATTERN.test(t) || length + extra > MAX_VALUE_LENGTH) {
      dropped++;
      continue;
    }
    kept.push(t);
    length += extra;
  }
  return kept.length > 0 ? { value: kept.join(','), count: kept.length, dropped } : { count: 0, dropped };
}

function validKey(key: string): boolean {
  return key.length <= MAX_KEY_LENGTH && KEY_PATTERN.test(key);
}

function validValue(value: string): boolean {
  return value.length <= MAX_VALUE_LENGTH && VALUE_PATTERN.test(value);
}

function sortedEntries(rec: Record<string, string>): [string, string][] {
  return Object.entries(rec).sort(([a], [b]) => byCodeUnit(a, b));
}

// Locale-independent, so every machine sorts (and drops) the same way.
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
