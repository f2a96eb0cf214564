// The local stack (`npm start`) and the test harness as a user ends them: Ctrl-C, SIGTERM to npm,
// SIGTERM or SIGHUP to node, SIGKILL of node (alone, and with its watchdog, followed by a new start),
// SIGTERM to a test run. After each, no process of ours runs and no management token or private
// key is left in the OS temp dir or the state dir. And a Greeter killed with -9 under `npm start`
// while requests flow costs no request, the stack stays up, and the printed command brings it back.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startProcess, stopProcess, waitForLine, type ManagedProcess } from '../../scripts/stack/processes';
import { eventually } from './harness';
import {
  describeProcesses,
  killMarked,
  localStackArgs,
  markedProcesses,
  prepareLocalStackTools,
  type MarkedProcess,
} from './local-stack-run';

const ROOT = join(__dirname, '..', '..');
/** Every process a scenario starts inherits MARKER=<its mark>, so we find them all, orphans too. */
const MARKER = 'CONSUL_GRPC_LAMBDA_LIFECYCLE_TEST';
const STATE_SECRETS = ['management-token', 'health-sync.env', 'registry-api-key', 'greeter-backend-token'];
const marks: string[] = [];
const dirs: string[] = [];

/** Live processes (zombies aside) whose environment carries MARKER=mark. */
const ourProcs = (mark: string): MarkedProcess[] => markedProcesses(MARKER, mark);

/** Our temp dirs whose `.owner` names `pid`. */
function dirsOwnedBy(pid: number): string[] {
  return readdirSync(tmpdir())
    .filter((d) => d.startsWith('consul-grpc-lambda-'))
    .map((d) => join(tmpdir(), d))
    .filter((d) => {
      try {
        return readFileSync(join(d, '.owner'), 'utf8').startsWith(`${pid}:`);
      } catch {
        return false;
      }
    });
}

/** Files below our temp dirs (any run's) and `stateDir` whose text holds `secret`. */
function filesHolding(secret: string, stateDir: string): string[] {
  const hits: string[] = [];
  const roots = [
    stateDir,
    ...readdirSync(tmpdir())
      .filter((d) => d.startsWith('consul-grpc-lambda-') && d !== 'consul-grpc-lambda-ports')
      .map((d) => join(tmpdir(), d)),
  ];
  for (const root of roots) {
    let files: string[];
    try {
      files = readdirSync(root, { recursive: true }).map((f) => join(root, String(f)));
    } catch {
      continue;
    }
    for (const f of files) {
      try {
        if (statSync(f).isFile() && statSync(f).size < 4_000_000 && readFileSync(f, 'latin1').includes(secret)) hits.push(f);
      } catch {
        // removed meanwhile
      }
    }
  }
  return hits;
}

/** A running `npm start` with what it wrote. */
interface StackRun {
  mark: string;
  npm: ManagedProcess;
  node: MarkedProcess;
  stateDir: string;
  httpPort: number;
  managementToken: string;
  ownedDirs: string[];
  keyFiles: string[];
}

async function startNpmStack(stateDir = mkdtempSync(join(tmpdir(), 'cgl-lifecycle-state-'))): Promise<StackRun> {
  dirs.push(stateDir);
  const mark = randomUUID();
  marks.push(mark);
  const { args, httpPort } = await localStackArgs(stateDir);
  // Its own process group (startProcess), as a terminal gives one to a foreground job.
  const npm = startProcess('npm start', 'npm', ['start', '--', ...args], { cwd: ROOT, env: { ...process.env, [MARKER]: mark } });
  await waitForLine(npm, /^READY\s/, 180_000);
  const node = ourProcs(mark).find((p) => /node$/.test(p.argv[0] ?? '') && p.argv.some((a) => a.endsWith('scripts/local-stack.ts')));
  assert.ok(node, describeProcesses(ourProcs(mark)));
  const ownedDirs = dirsOwnedBy(node.pid);
  const consulDir = ownedDirs.find((d) => d.includes('consul-grpc-lambda-consul-'));
  assert.ok(consulDir, `a Consul data dir owned by the stack among ${ownedDirs.join(', ')}`);
  // The agent has read its config: the file with the management token is already gone.
  assert.ok(!existsSync(join(consulDir, 'agent.hcl')), `${consulDir}/agent.hcl unlinked once Consul answered`);
  const keyFiles = ownedDirs
    .flatMap((d) => readdirSync(d, { recursive: true }).map((f) => join(d, String(f))))
    .filter((f) => /key\.pem$/.test(f));
  return {
    mark,
    npm,
    node,
    stateDir,
    httpPort,
    managementToken: readFileSync(join(stateDir, 'management-token'), 'utf8').trim(),
    ownedDirs,
    keyFiles,
  };
}

/** Nothing of `run` runs, and none of its secrets is on disk. */
async function assertNothingLeft(run: StackRun): Promise<void> {
  await eventually(() => ourProcs(run.mark).length === 0, 30_000, 'every process of the stack to be gone').catch(() => {
    assert.fail(`left running:\n${describeProcesses(ourProcs(run.mark))}\nstack output:\n${run.npm.output.slice(-20).join('\n')}`);
  });
  assert.deepEqual(
    run.ownedDirs.filter((d) => existsSync(d)),
    [],
    'temp dirs of the stack removed',
  );
  assert.deepEqual(
    run.keyFiles.filter((f) => existsSync(f)),
    [],
    'private keys removed',
  );
  assert.deepEqual(
    STATE_SECRETS.filter((f) => existsSync(join(run.stateDir, f))),
    [],
    `no secret left in ${run.stateDir}`,
  );
  assert.deepEqual(filesHolding(run.managementToken, run.stateDir), [], 'no file holds the management token');
}

const exited = (p: ManagedProcess) => p.child.exitCode !== null || p.child.signalCode !== null;

after(() => {
  // Whatever happened above: nothing a scenario started may outlive the test.
  killMarked(MARKER, marks);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('local stack lifecycle', { skip: process.platform !== 'linux' && 'finds its processes through /proc' }, () => {
  it('prepares Consul and moto once', { timeout: 900_000 }, prepareLocalStackTools);

  it(
    'kill -9 of a Greeter while requests flow: 0 failed, the stack stays up and says so, the printed command brings it back; Ctrl-C then leaves nothing',
    { timeout: 400_000 },
    async (t) => {
      const run = await startNpmStack();
      const url = `http://127.0.0.1:${run.httpPort}/hello/Ada`;
      const served: string[] = [];
      const failed: string[] = [];
      let flowing = true;
      const traffic = (async () => {
        while (flowing) {
          try {
            const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
            const body = (await res.json()) as { message?: string };
            if (res.status === 200) served.push(/\(from (\S+)\)/.exec(body.message ?? '')?.[1] ?? '?');
            else failed.push(`${res.status} ${JSON.stringify(body)}`);
          } catch (err) {
            failed.push(String(err));
          }
        }
      })();
      try {
        await eventually(() => served.length >= 5, 60_000, 'traffic to flow');
        const greeter = ourProcs(run.mark).find((p) => /node$/.test(p.argv[0] ?? '') && p.argv.includes('greeter-1'));
        assert.ok(greeter, describeProcesses(ourProcs(run.mark)));
        process.kill(greeter.pid, 'SIGKILL');
        const death = await waitForLine(
          run.npm,
          new RegExp(
            `^✖ greeter-1 \\(pid ${greeter.pid}\\) was killed by SIGKILL; the stack goes on with the other Greeters\\. Bring it back: (.+)$`,
          ),
          30_000,
        );
        // Traffic moved: the last 10 answers came from greeter-2, and many more flowed after the death.
        const atDeath = served.length;
        await eventually(
          () => served.length >= atDeath + 20 && served.slice(-10).every((g) => g === 'greeter-2'),
          90_000,
          'traffic on greeter-2 only',
        );
        flowing = false;
        await traffic;
        assert.deepEqual(failed, [], `${failed.length} failed of ${served.length + failed.length}`);
        t.diagnostic(
          `${served.length} requests answered 200 (${served.length - atDeath} after the death was shown), ${failed.length} failed`,
        );
        assert.ok(
          !exited(run.npm) && ourProcs(run.mark).some((p) => p.pid === run.node.pid),
          `the stack is still up:\n${run.npm.output.slice(-10).join('\n')}`,
        );

        // The printed command (with the backend token from the state dir) brings greeter-1 back into rotation.
        const byHand = startProcess('greeter by hand', 'sh', ['-c', death[1] ?? ''], {
          cwd: tmpdir(),
          env: { ...process.env, [MARKER]: run.mark },
        });
        try {
          await eventually(
            async () => {
              const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
              return res.status === 200 && ((await res.json()) as { message?: string }).message?.includes('(from greeter-1)') === true;
            },
            90_000,
            'greeter-1 to serve again',
          ).catch((err: Error) => assert.fail(`${err.message}\n${byHand.output.slice(-15).join('\n')}`));
        } finally {
          await stopProcess(byHand, 'SIGTERM', 5_000);
        }
      } finally {
        flowing = false;
        await traffic;
      }

      // Ctrl-C: SIGINT to the whole foreground job (npm, sh, node).
      process.kill(-(run.npm.child.pid ?? 0), 'SIGINT');
      await eventually(() => exited(run.npm), 30_000, 'npm start to exit');
      await eventually(() => run.npm.output.some((l) => l === '• stopped'), 10_000, 'the stack to say it stopped');
      await assertNothingLeft(run);
    },
  );

  it('SIGTERM to npm (kill <pid of npm start>) stops everything: the stack sees its parent go', { timeout: 300_000 }, async () => {
    const run = await startNpmStack();
    process.kill(run.npm.child.pid ?? 0, 'SIGTERM');
    await assertNothingLeft(run);
    assert.ok(
      run.npm.output.some((l) => /^• parent \d+ exited$/.test(l)),
      run.npm.output.slice(-10).join('\n'),
    );
  });

  for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
    it(`${signal} to the stack's node process stops everything`, { timeout: 300_000 }, async () => {
      const run = await startNpmStack();
      process.kill(run.node.pid, signal);
      await eventually(() => exited(run.npm), 30_000, 'npm start to exit');
      await assertNothingLeft(run);
      assert.ok(run.npm.output.includes('• stopped'), run.npm.output.slice(-10).join('\n'));
    });
  }

  it(
    'SIGKILL of node and its watchdog leaves orphans; the next start (same state dir) sweeps them; a SIGKILL of node alone is cleaned by the watchdog',
    { timeout: 500_000 },
    async () => {
      const first = await startNpmStack();
      const watchdog = ourProcs(first.mark).find((p) => p.ppid === first.node.pid && p.argv.some((a) => a.endsWith('watchdog.mjs')));
      assert.ok(watchdog, describeProcesses(ourProcs(first.mark)));
      process.kill(watchdog.pid, 'SIGKILL');
      process.kill(first.node.pid, 'SIGKILL');
      await eventually(() => exited(first.npm), 30_000, 'npm start to exit');
      // The worst case, as a power cut of our node leaves it: children and secrets stay behind...
      assert.ok(
        ourProcs(first.mark).some((p) => p.argv.some((a) => a.endsWith('consul') || /\/consul$/.test(a))),
        `Consul orphaned:\n${describeProcesses(ourProcs(first.mark))}`,
      );
      assert.ok(
        first.ownedDirs.every((d) => existsSync(d)),
        'temp dirs still there',
      );
      assert.ok(existsSync(join(first.stateDir, 'management-token')), 'state dir token still there');

      // ...until the next start, which sweeps them before it starts its own.
      const second = await startNpmStack(first.stateDir);
      assert.ok(
        second.npm.output.some((l) => /^• swept what a dead run left: [1-9]\d* temp dir\(s\), [1-9]\d* process\(es\)$/.test(l)),
        second.npm.output.slice(0, 10).join('\n'),
      );
      const empty = mkdtempSync(join(tmpdir(), 'cgl-lifecycle-empty-'));
      dirs.push(empty);
      await assertNothingLeft({ ...first, stateDir: empty });
      assert.notEqual(readFileSync(join(first.stateDir, 'management-token'), 'utf8').trim(), first.managementToken);

      // SIGKILL of node alone: its watchdog stops the children and removes the secrets.
      process.kill(second.node.pid, 'SIGKILL');
      await eventually(() => exited(second.npm), 30_000, 'npm start to exit');
      await assertNothingLeft(second);
    },
  );

  it(
    "SIGTERM to a test run (node scripts/run-tests.mjs <dir>) stops its harness stack and removes Consul's dir",
    { timeout: 300_000 },
    async () => {
      const mark = randomUUID();
      marks.push(mark);
      const work = mkdtempSync(join(tmpdir(), 'cgl-lifecycle-run-'));
      dirs.push(work);
      const readyFile = join(work, 'ready.json');
      // A run of its own, as from a shell: without the variable that makes node:test treat it as our subtest.
      const { NODE_TEST_CONTEXT: _ours, ...env } = process.env;
      const runner = startProcess(
        'run-tests',
        process.execPath,
        [join(ROOT, 'scripts', 'run-tests.mjs'), join(ROOT, 'test', 'fixtures', 'lifecycle')],
        {
          cwd: ROOT,
          env: { ...env, [MARKER]: mark, LIFECYCLE_READY_FILE: readyFile },
        },
      );
      await eventually(() => existsSync(readyFile) && readFileSync(readyFile, 'utf8').endsWith('}'), 120_000, 'the held stack').catch(
        (err: Error) => assert.fail(`${err.message}\n${runner.output.slice(-20).join('\n')}`),
      );
      const held = JSON.parse(readFileSync(readyFile, 'utf8')) as { dataDir: string; managementToken: string };
      rmSync(readyFile); // it holds the token too, for this check only
      assert.ok(existsSync(held.dataDir) && !existsSync(join(held.dataDir, 'agent.hcl')), `${held.dataDir} exists, its agent.hcl is gone`);
      assert.ok(
        ourProcs(mark).some((p) => p.argv.includes('held-1')),
        describeProcesses(ourProcs(mark)),
      );

      process.kill(runner.child.pid ?? 0, 'SIGTERM');
      await eventually(() => exited(runner), 30_000, 'the test run to exit');
      await eventually(() => ourProcs(mark).length === 0, 30_000, 'every process of the run to be gone').catch(() =>
        assert.fail(`left running:\n${describeProcesses(ourProcs(mark))}`),
      );
      assert.ok(!existsSync(held.dataDir), `${held.dataDir} removed`);
      assert.deepEqual(filesHolding(held.managementToken, work), [], 'no file holds the management token');
    },
  );
});
