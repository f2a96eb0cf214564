import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CONFIG_KEYS } from '../../lib/config/schema';

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

describe('README', () => {
  it('documents every config key with its default', () => {
    for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
      assert.ok(row, `README has a row for ${key}`);
      const shown = spec.default === '' ? '(empty)' : `\`${spec.default}\``;
      assert.ok(row.includes(shown), `README shows the default of ${key} as ${shown}`);
    }
  });
});
