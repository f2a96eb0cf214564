/** Pure merge of raw K/V strings over the defaults, key by key. */
import { safeParse } from 'zod/mini';
import type { ConfigProblem, ConfigSource, ConfigValues, KeySpec, KeySpecs } from './key-specs';

/** The effective config with the source of each key and the values that were rejected. */
export interface ResolvedConfig<S extends KeySpecs> {
  values: ConfigValues<S>;
  sources: Record<keyof S, ConfigSource>;
  problems: ConfigProblem[];
  unknownKeys: string[];
}

/**
 * Validates each present key; a bad value falls back to that key's default and is reported. A value written
 * exactly as its key's default (what seeding writes, and what most keys hold) is that default: the rule is
 * not run for it, since a zod schema's first parse in a process costs far more than the comparison
 * (test/unit/config/resolve-config.test.ts proves every key set's defaults pass their own rules).
 */
export function resolveConfig<S extends KeySpecs>(
  specs: S,
  raw: Readonly<Record<string, string>>,
  fallbackSource: ConfigSource = 'default',
): ResolvedConfig<S> {
  const values: Record<string, unknown> = {};
  const sources: Record<string, ConfigSource> = {};
  const problems: ConfigProblem[] = [];
  for (const [key, spec] of Object.entries(specs)) {
    const text = raw[key];
    if (text === undefined) {
      values[key] = spec.default;
      sources[key] = fallbackSource;
      continue;
    }
    if (text === defaultText(spec)) {
      values[key] = spec.default;
      sources[key] = 'kv';
      continue;
    }
    const parsed = safeParse(spec.schema, text);
    if (parsed.success) {
      values[key] = parsed.data;
      sources[key] = 'kv';
    } else {
      values[key] = spec.default;
      sources[key] = 'default (invalid kv value)';
      problems.push({ key, reason: parsed.error.issues.map((i) => i.message).join('; ') });
    }
  }
  const unknownKeys = Object.keys(raw).filter((k) => !(k in specs));
  return { values: values as ConfigValues<S>, sources: sources as Record<keyof S, ConfigSource>, problems, unknownKeys };
}

/** Keys below `prefix` with the prefix removed; folders (keys ending in '/') are skipped. */
export function relativeKeys(prefix: string, pairs: readonly { key: string; value: string }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of pairs) {
    if (!key.startsWith(prefix) || key.endsWith('/')) continue;
    out[key.slice(prefix.length)] = value;
  }
  return out;
}

/** The defaults as K/V strings, for seeding a fresh Consul. */
export function defaultKvEntries(specs: KeySpecs): Record<string, string> {
  return Object.fromEntries(Object.entries(specs).map(([k, spec]) => [k, defaultText(spec)]));
}

/** A key's default as its K/V string (a list comma-separated). */
export function defaultText(spec: KeySpec): string {
  return Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default);
}
