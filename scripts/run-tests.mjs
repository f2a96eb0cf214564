// Runs node's test runner on every *.test.ts below the given folder.
// Node 20's runner neither expands globs nor picks up .ts files by itself.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const [dir, ...extra] = process.argv.slice(2);
const files = readdirSync(dir, { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.ts'))
  .sort()
  .map((f) => join(dir, f));
if (files.length === 0) {
  console.error(`no test files under ${dir}`);
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...extra, ...files], { stdio: 'inherit' });
process.exit(res.status ?? 1);
