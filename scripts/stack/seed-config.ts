/** Writing config into Consul K/V for the stack, tests and benches: the defaults, or chosen values. */
import type { ConsulApi } from '../../lib/consul/consul-api';
import { kvPut } from '../../lib/consul/kv';
import { defaultKvEntries } from '../../lib/config/resolve-config';
import type { KeySpecs } from '../../lib/config/key-specs';
import { GATEWAY_KEYS } from '../../lib/greeter/gateway-config';

/** Writes each default key that is absent (check-and-set 0); returns the keys written. */
export async function seedDefaultConfig(
  admin: ConsulApi,
  prefix: string,
  specs: KeySpecs = GATEWAY_KEYS,
  overrides: Record<string, string> = {},
): Promise<string[]> {
  const written: string[] = [];
  for (const [key, value] of Object.entries({ ...defaultKvEntries(specs), ...overrides })) {
    if (await kvPut(admin, `${prefix}${key}`, value, { onlyIfAbsent: true })) written.push(key);
  }
  return written;
}

/** Writes `values` under `prefix`, replacing what is there (a test's or bench's chosen config). */
export async function putConfig(admin: ConsulApi, prefix: string, values: Record<string, string>): Promise<void> {
  for (const [key, value] of Object.entries(values)) await kvPut(admin, `${prefix}${key}`, value);
}
