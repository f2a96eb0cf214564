/**
 * Building blocks of a function's config keys: each key has a zod rule for its
 * K/V string, a default and one line of docs. Values live in Consul K/V as
 * plain strings under the function's prefix, and every key is validated on
 * its own so one bad write falls back for that key only.
 *
 * The rules are built with `zod/mini`, zod's functional build for bundles: the same checks and
 * core as `zod`, without the method-chaining classes (and their load time) on every cold start.
 * A spec's schema is typed as zod's core type, so either build's schemas fit; every rule here
 * names its message, as zod/mini loads no locale.
 */
import * as z from 'zod/mini';
import type { $ZodType } from 'zod/v4/core';

/** A DNS-style service name, as Consul and Cloud Map both accept. */
export const SERVICE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** One config key: its rule for the K/V string, its default, one line of docs. */
export interface KeySpec {
  /** Parses the K/V string (zod or zod/mini; see resolveConfig). */
  schema: $ZodType<string | number | boolean | string[], string>;
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

/** A text key: trimmed, then matched against `pattern` (`message` when it does not match). */
export function textKey(pattern: RegExp, message: string) {
  return z.string().check(z.trim(), z.regex(pattern, message));
}

/** One of `values`, trimmed. */
export function enumKey<const T extends readonly [string, ...string[]]>(values: T, message = `must be one of ${values.join(', ')}`) {
  return z.pipe(z.string().check(z.trim()), z.enum(values, message));
}

/** An integer key within [min, max]. */
export function intKey(min: number, max: number) {
  return z.pipe(
    z.pipe(z.string().check(z.trim(), z.regex(/^-?\d+$/, 'must be an integer')), z.transform(Number)),
    z.number().check(z.int('must be an integer'), z.gte(min, `must be at least ${min}`), z.lte(max, `must be at most ${max}`)),
  );
}

/** A comma-separated list key whose entries each match `item`, with `min`–`max` entries. */
export function listKey(item: $ZodType<string, string>, what: string, min: number, max: number) {
  return z.pipe(
    z.pipe(
      z.string(),
      z.transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      ),
    ),
    z.array(item).check(z.minLength(min, `must list at least ${min} ${what}(s)`), z.maxLength(max, `must list at most ${max} ${what}s`)),
  );
}

/** A `true`/`false` key. */
export function boolKey() {
  return z.pipe(
    z.string().check(
      z.trim(),
      z.toLowerCase(),
      z.refine((v) => v === 'true' || v === 'false', 'must be true or false'),
    ),
    z.transform((v) => v === 'true'),
  );
}

/** An optional name (tag, datacenter): may be empty. */
export const optionalNameKey = (what: string) =>
  z
    .string()
    .check(
      z.trim(),
      z.maxLength(128, `${what} must be at most 128 characters`),
      z.regex(/^[A-Za-z0-9_.:-]*$/, `${what} may hold only letters, digits and _ . : -`),
    );

/** Where a value came from, as /status shows it. */
export type ConfigSource = 'default' | 'kv' | 'default (invalid kv value)' | 'default (consul unreachable)';

/** One rejected K/V value. */
export interface ConfigProblem {
  key: string;
  reason: string;
}
