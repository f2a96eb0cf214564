/**
 * Building blocks of a function's config keys: each key has a zod rule for its
 * K/V string, a default and one line of docs. Values live in Consul K/V as
 * plain strings under the function's prefix, and every key is validated on
 * its own so one bad write falls back for that key only.
 */
import * as z from 'zod';

/** A DNS-style service name, as Consul and Cloud Map both accept. */
export const SERVICE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** One config key: its rule for the K/V string, its default, one line of docs. */
export interface KeySpec {
  schema: z.ZodType<string | number | boolean | string[], string>;
  default: string | number | boolean | readonly string[];
  doc: string;
}

/** A function's set of config keys. */
export type KeySpecs = Record<string, KeySpec>;

type Widen<T> = T extends number
  ? number
  : T extends boolean
    ? boolean
    : T extends string
      ? string
      : T extends readonly string[]
        ? string[]
        : never;

/** The typed values of a key set. */
export type ConfigValues<S extends KeySpecs> = { [K in keyof S]: Widen<S[K]['default']> };

/** An integer key within [min, max]. */
export function intKey(min: number, max: number) {
  return z
    .string()
    .trim()
    .regex(/^-?\d+$/, 'must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

/** A comma-separated list key whose entries each match `item`, with `min`–`max` entries. */
export function listKey(item: z.ZodType<string, string>, what: string, min: number, max: number) {
  return z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item).min(min, `must list at least ${min} ${what}(s)`).max(max, `must list at most ${max} ${what}s`));
}

/** A `true`/`false` key. */
export function boolKey() {
  return z
    .string()
    .trim()
    .toLowerCase()
    .refine((v) => v === 'true' || v === 'false', 'must be true or false')
    .transform((v) => v === 'true');
}

/** An optional name (tag, datacenter): may be empty. */
export const optionalName = (what: string) =>
  z
    .string()
    .trim()
    .max(128, `${what} must be at most 128 characters`)
    .regex(/^[A-Za-z0-9_.:-]*$/, `${what} may hold only letters, digits and _ . : -`);

/** Where a value came from, as /status shows it. */
export type ConfigSource = 'default' | 'kv' | 'default (invalid kv value)' | 'default (consul unreachable)';

/** One rejected K/V value. */
export interface ConfigProblem {
  key: string;
  reason: string;
}
