/** Pure merge of raw K/V strings over the defaults, key by key. */
import { CONFIG_KEYS, type ConfigKey, type ConfigProblem, type ConfigSource, type GatewayConfig } from './schema';

/** The effective config with the source of each key and the values that were rejected. */
export interface ResolvedConfig {
  values: GatewayConfig;
  sources: Record<ConfigKey, ConfigSource>;
  problems: ConfigProblem[];
  unknownKeys: string[];
}

const KEYS = Object.keys(CONFIG_KEYS) as ConfigKey[];

/** Validates each present key; a bad value falls back to that key's default and is reported. */
export function resolveConfig(raw: Readonly<Record<string, string>>, fallbackSource: ConfigSource = 'default'): ResolvedConfig {
  const values = {} as Record<ConfigKey, unknown>;
  const sources = {} as Record<ConfigKey, ConfigSource>;
  const problems: ConfigProblem[] = [];
  for (const key of KEYS) {
    const spec = CONFIG_KEYS[key];
    const text = raw[key];
    if (text === undefined) {
      values[key] = spec.default;
      sources[key] = fallbackSource;
      continue;
    }
    const parsed = spec.schema.safeParse(text);
    if (parsed.success) {
      values[key] = parsed.data;
      sources[key] = 'kv';
    } else {
      values[key] = spec.default;
      sources[key] = 'default (invalid kv value)';
      problems.push({ key, reason: parsed.error.issues.map((i) => i.message).join('; ') });
    }
  }
  const unknownKeys = Object.keys(raw).filter((k) => !(k in CONFIG_KEYS));
  return { values: values as GatewayConfig, sources, problems, unknownKeys };
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
export function defaultKvEntries(): Record<ConfigKey, string> {
  return Object.fromEntries(KEYS.map((k) => [k, String(CONFIG_KEYS[k].default)])) as Record<ConfigKey, string>;
}
