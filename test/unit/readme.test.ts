import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { KeySpecs } from '../../lib/config/key-specs';
import { GATEWAY_KEYS } from '../../lib/greeter/gateway-config';
import { HEALTH_SYNC_KEYS } from '../../lib/health-sync/health-sync-config';
import { REGISTRY_KEYS } from '../../lib/registry/registry-config';

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

function shown(v: KeySpecs[string]['default']): string {
  const text = Array.isArray(v) ? v.join(',') : String(v);
  return text === '' ? '(empty)' : `\`${text}\``;
}

describe('README', () => {
  for (const [name, specs] of Object.entries({ gateway: GATEWAY_KEYS, registry: REGISTRY_KEYS, 'health-sync': HEALTH_SYNC_KEYS } as Record<
    string,
    KeySpecs
  >)) {
    it(`documents every ${name} config key with its default`, () => {
      for (const [key, spec] of Object.entries(specs)) {
        // Shared keys (lease*, configMaxAgeSeconds) are documented once, with the gateway's defaults.
        if (name !== 'gateway' && (key.startsWith('lease') || key === 'configMaxAgeSeconds')) continue;
        const row = readme.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
        assert.ok(row, `README has a row for ${key}`);
        assert.ok(row.includes(shown(spec.default)), `README shows the default of ${key} as ${shown(spec.default)}`);
      }
    });
  }
});
