// The stack's watchdog (see lifecycle.ts): its stdin is a pipe from the process it guards, which
// sends `G <pgid>` / `g <pgid>` (a child's process group started / gone) and `P <path>` / `p <path>`
// (a path holding secrets made / removed). When the pipe ends, the guarded process is gone (also
// after a SIGKILL): stop the groups (SIGTERM, then SIGKILL after 3 s) and remove the paths.
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';

// In a process group of its own, and deaf to the signals that end its guarded process.
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => undefined);

const groups = new Set();
const paths = new Set();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [op, ...rest] = line.split(' ');
  const arg = rest.join(' ');
  if (op === 'G') groups.add(Number(arg));
  else if (op === 'g') groups.delete(Number(arg));
  else if (op === 'P') paths.add(arg);
  else if (op === 'p') paths.delete(arg);
});
lines.on('close', () => void cleanUp());

const signal = (pgid, sig) => {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false; // group empty
  }
};

async function cleanUp() {
  const alive = () => [...groups].filter((g) => g > 1 && signal(g, 0));
  for (const g of alive()) signal(g, 'SIGTERM');
  const until = Date.now() + 3_000;
  while (alive().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  for (const g of alive()) signal(g, 'SIGKILL');
  for (const p of paths) rmSync(p, { recursive: true, force: true });
  process.exit(0);
}
