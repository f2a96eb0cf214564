// The shipped descriptor set is generated (npm run proto:gen); this keeps it from drifting from proto/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(__dirname, '..', '..', '..');

describe('proto/gen/descriptor-set.ts', () => {
  it('is what buf generates from proto/ now', () => {
    const out = mkdtempSync(join(tmpdir(), 'descriptor-set-'));
    try {
      execFileSync(join(ROOT, 'node_modules', '.bin', 'buf'), ['generate', '--template', 'buf.gen.yaml', '-o', out], {
        cwd: ROOT,
        timeout: 60_000,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const fresh = readFileSync(join(out, 'proto', 'gen', 'descriptor-set.ts'), 'utf8');
      const shipped = readFileSync(join(ROOT, 'proto', 'gen', 'descriptor-set.ts'), 'utf8');
      assert.ok(fresh === shipped, 'proto/gen/descriptor-set.ts is stale: run npm run proto:gen');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
