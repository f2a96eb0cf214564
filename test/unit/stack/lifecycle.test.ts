// lifecycle.ts: owner tags survive pid reuse checks, the sweep removes only what a dead owner left
// (dirs and processes), and onTermination reports the parent's death.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { OWNER_ENV, ownerAlive, ownerTag, sweepStale } from '../../../scripts/stack/lifecycle';
import { eventually } from '../../../scripts/support/poll-until';

const root = mkdtempSync(join(tmpdir(), 'cgl-lifecycle-unit-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** The tag of a process that has already exited. */
function deadTag(): string {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return `${child.stdout}:1`;
}

function ourDir(name: string, owner?: string): string {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'agent.hcl'), 'initial_management = "secret"');
  if (owner !== undefined) writeFileSync(join(dir, '.owner'), `${owner}\n`);
  return dir;
}

describe('lifecycle', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  it('an owner tag is alive for this process, not for an exited one nor for a reused pid with another start time', () => {
    assert.equal(ownerAlive(ownerTag()), true);
    assert.equal(ownerAlive(deadTag()), false);
    assert.equal(ownerAlive(`${process.pid}:1`), false);
    assert.equal(ownerAlive('garbage'), false);
  });

  it('sweeps our dirs whose owner is dead, keeps live owners, other prefixes and young dirs without an owner; removes old ones nobody names', () => {
    const dead = ourDir('consul-grpc-lambda-consul-dead', deadTag());
    const tls = ourDir('consul-grpc-lambda-tls-dead', deadTag());
    const live = ourDir('consul-grpc-lambda-consul-live', ownerTag());
    const otherKind = ourDir('consul-grpc-lambda-package-dead', deadTag());
    const youngLegacy = ourDir('consul-grpc-lambda-coredns-young');
    const oldLegacy = ourDir('consul-grpc-lambda-cluster-old');
    const hour = Date.now() / 1000 - 3600;
    utimesSync(oldLegacy, hour, hour);
    const { dirs } = sweepStale(root);
    assert.deepEqual(dirs.sort(), [oldLegacy, dead, tls].sort());
    for (const d of [dead, tls, oldLegacy]) assert.equal(existsSync(d), false, d);
    for (const d of [live, otherKind, youngLegacy]) assert.equal(existsSync(d), true, d);
  });

  it('kills processes whose owner is dead and spares those whose owner lives', async () => {
    const sleeper = (owner: string) =>
      spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { env: { ...process.env, [OWNER_ENV]: owner }, stdio: 'ignore' });
    const [orphanTag, keptTag] = [deadTag(), ownerTag()];
    const orphan = sleeper(orphanTag);
    const kept = sleeper(keptTag);
    try {
      // Until both have exec'd: the sweep finds them by the owner tag in their environment.
      const tagged = (pid: number | undefined, tag: string) => {
        try {
          return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`${OWNER_ENV}=${tag}`);
        } catch {
          return false;
        }
      };
      await eventually(() => tagged(orphan.pid, orphanTag) && tagged(kept.pid, keptTag), 10_000, 'both sleepers to carry their owner tag');
      const gone = new Promise((r) => orphan.once('exit', r));
      const { pids } = sweepStale(root);
      assert.ok(pids.includes(orphan.pid ?? -1), `swept ${pids.join(',')}`);
      assert.ok(!pids.includes(kept.pid ?? -1));
      await gone;
      assert.equal(kept.exitCode, null);
    } finally {
      orphan.kill('SIGKILL');
      kept.kill('SIGKILL');
    }
  });

  it('onTermination fires when the parent dies', async () => {
    // A parent that starts a child watching it, then exits; the child writes what it saw.
    const child = join(root, 'watch-parent.ts');
    const reasonFile = join(root, 'reason');
    writeFileSync(
      child,
      `import { writeFileSync } from 'node:fs';
import { onTermination } from ${JSON.stringify(join(__dirname, '../../../scripts/stack/lifecycle'))};
onTermination((r) => { writeFileSync(${JSON.stringify(reasonFile)}, r); process.exit(0); }, 100);
setTimeout(() => {}, 30_000);
`,
    );
    const parent = `const c = require('node:child_process').spawn(process.execPath, ['--import', 'tsx', ${JSON.stringify(child)}], { stdio: 'ignore', detached: true }); c.unref(); setTimeout(() => process.exit(0), 3000);`;
    spawnSync(process.execPath, ['-e', parent], { timeout: 20_000, cwd: join(__dirname, '../../..') });
    // A timeout here is reported by the assertion below, with what was (not) written.
    await eventually(() => existsSync(reasonFile), 15_000, 'the reason file').catch(() => undefined);
    assert.match(existsSync(reasonFile) ? readFileSync(reasonFile, 'utf8') : '(nothing written)', /^parent \d+ exited$/);
  });
});
