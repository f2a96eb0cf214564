import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { KeySpecs } from '../../lib/config/key-specs';
import { GATEWAY_KEYS } from '../../lib/greeter/gateway-config';
import { HEALTH_SYNC_KEYS } from '../../lib/health-sync/health-sync-config';
import { REGISTRY_KEYS } from '../../lib/registry/registry-config';
import { RPC_KEYS } from '../../lib/rpc/rpc-config';

const ROOT = join(__dirname, '..', '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
// The configuration reference lives in docs/; the README links to it.
const configuration = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');

/** The lines of the `## Consul K/V: …` section whose heading names `domain`. */
function kvSection(domain: string): string[] {
  const sections = configuration.split(/^(?=## )/m);
  const section = sections.find((s) => s.startsWith('## Consul K/V:') && s.split('\n')[0]!.includes(domain));
  assert.ok(section, `docs/configuration.md has a "## Consul K/V: …${domain}…" section`);
  return section.split('\n');
}

function shown(v: KeySpecs[string]['default']): string {
  const text = Array.isArray(v) ? v.join(',') : String(v);
  return text === '' ? '(empty)' : `\`${text}\``;
}

describe('docs/configuration.md', () => {
  const domains: Record<string, KeySpecs> = {
    gateway: GATEWAY_KEYS,
    registry: REGISTRY_KEYS,
    'health-sync': HEALTH_SYNC_KEYS,
    rpc: RPC_KEYS,
  };
  for (const [name, specs] of Object.entries(domains)) {
    it(`documents every ${name} config key with its default`, () => {
      const lines = kvSection(name);
      for (const [key, spec] of Object.entries(specs)) {
        // Shared keys (lease*, configMaxAgeSeconds) are documented once, with the gateway's defaults.
        if (name !== 'gateway' && (key.startsWith('lease') || key === 'configMaxAgeSeconds')) continue;
        const row = lines.find((l) => l.startsWith(`| \`${key}\` |`));
        assert.ok(row, `docs/configuration.md has a row for ${key}`);
        assert.ok(row.includes(shown(spec.default)), `docs/configuration.md shows the default of ${key} as ${shown(spec.default)}`);
      }
    });
  }
});

describe('README', () => {
  it('stays under 300 lines, with a table of contents that links every reference doc', () => {
    assert.ok(readme.split('\n').length < 300, `README.md has ${readme.split('\n').length} lines`);
    assert.match(readme, /^## Contents$/m);
    for (const doc of [
      'architecture',
      'configuration',
      'http-api',
      'rpc',
      'security',
      'deploying',
      'failure-modes',
      'performance',
      'fleet-scale',
    ]) {
      assert.ok(readme.includes(`(docs/${doc}.md)`), `the README links docs/${doc}.md`);
    }
  });
});
