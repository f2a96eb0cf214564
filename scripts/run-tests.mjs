// Runs node's test runner on every *.test.ts below the given folder.
// Node 20's runner neither expands globs nor picks up .ts files by itself.
// SIGTERM, SIGHUP, Ctrl-C or the death of our parent (`kill` of the npm process, which ends npm
// without passing the signal on) reach the runner, and through it the test files, whose harness
// then stops its stack and removes its temp dirs.
import { spawn } from 'node:child_process';
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
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...extra, ...files], { stdio: 'inherit' });
let ending = false;
const end = (signal) => {
  if (ending) return;
  ending = true;
  child.kill(signal);
  // Bounded: a runner that ignores the signal is killed after 20 s (the watchdogs clean up after it).
  setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
};
for (const s of ['SIGTERM', 'SIGHUP']) process.on(s, () => end(s));
// Ctrl-C reaches the runner through the terminal's process group already; only wait for it.
process.on('SIGINT', () => undefined);
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) end('SIGTERM');
}, 500).unref();
child.on('exit', (code) => process.exit(code ?? 1));
