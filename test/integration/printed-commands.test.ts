// Every command the project prints or documents works as printed, against a real local stack
// (`npm start`: Consul, moto, two Greeters, serverless-offline) on free ports with its own state dir:
// - each command line of the READY banner of `npm start`, and of `npm start -- --tls` (with the
//   dns and cloudmap sources, so their lines are printed too);
// - `npm run invoke:rie -- <function>` with its default event against the --tls stack;
// - the restart command printed when a Greeter dies (kill -9 of greeter-1) or the Echo backend dies
//   (kill -9 of echo-1), and the printed line that adds another Greeter: each one's backend passes in Consul;
// - every `sh` block of README.md and docs/*.md, in document order (README first), unless the line
//   above its fence is `<!-- not run: … -->`. Before a block runs, exactly these strings are
//   rewritten to this stack's: http://localhost:3000, .local-stack/, 127.0.0.1:8500, 50051, 50052
//   and 50053 (the Echo backend).
//   Blocks run as a user's shell would, with LOCAL_STACK_DIR naming the stack's state dir (how the
//   wrappers find a stack started with --state-dir) and none of the test's Consul or AWS variables.
// Each command runs in `bash -eo pipefail` from the repo root with a timeout and must exit 0; a banner
// line whose answer is an error body fails too (a documented block may show an error on purpose).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { ensureGrpcurlBinary } from '../../scripts/grpcurl-binary';
import { ensureAwsCli } from '../../scripts/stack/moto';
import { startProcess, stopProcess, waitForLine, type ManagedProcess } from '../../scripts/stack/processes';
import { eventually } from '../../scripts/support/poll-until';
import { passingIds } from '../../scripts/stack/passing';
import { readStackState } from '../../scripts/tools/stack-state';
import { createConsulApi } from '../../lib/consul/consul-api';
import { readConsulTlsFiles } from '../../lib/config/environment';
import { killMarked, localStackArgs, markedProcesses, prepareLocalStackTools } from './local-stack-run';

const ROOT = join(__dirname, '..', '..');
/** Every process a stack or command of this file starts inherits MARKER=<its mark>, so we find them all, orphans too. */
const MARKER = 'CONSUL_GRPC_LAMBDA_PRINTED_TEST';
const COMMAND_TIMEOUT_MS = 300_000;
const marks: string[] = [];
const dirs: string[] = [];
const stacks: ManagedProcess[] = [];

after(async () => {
  // Ctrl-C to each stack first (it removes its tokens and keys), then whatever is left, by mark.
  for (const npm of stacks) {
    if (npm.child.exitCode === null && npm.child.signalCode === null) {
      try {
        process.kill(-(npm.child.pid ?? 0), 'SIGINT');
      } catch {
        // gone
      }
      await Promise.race([npm.exited, new Promise((r) => setTimeout(r, 30_000))]);
    }
  }
  killMarked(MARKER, marks);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The environment of a fresh shell: none of the variables the test run or a stack may have set. */
function userEnv(mark: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(CONSUL_HTTP_|CONSUL_CACERT|CONSUL_CLIENT_|CONSUL_TLS_|AWS_|GREETER_|LOCAL_STACK_|NODE_TEST_CONTEXT$)/.test(k)) env[k] = v;
  return { ...env, [MARKER]: mark, ...extra };
}

/** A running `npm start` and what it printed. */
interface Stack {
  mark: string;
  npm: ManagedProcess;
  stateDir: string;
  consulAddress: string;
  httpBase: string;
  greeterPorts: [number, number];
  echoPort: number;
  banner: string[];
}

async function startStack(extra: string[]): Promise<Stack> {
  const stateDir = mkdtempSync(join(tmpdir(), 'cgl-printed-state-'));
  dirs.push(stateDir);
  const mark = randomUUID();
  marks.push(mark);
  const { args, consulPort, httpPort, greeterPorts, echoPort } = await localStackArgs(stateDir, extra);
  const npm = startProcess('npm start', 'npm', ['start', '--', ...args], { cwd: ROOT, env: userEnv(mark) });
  stacks.push(npm);
  await waitForLine(npm, /^READY\s/, 240_000);
  // The banner ends with the line that adds a Greeter.
  await waitForLine(npm, / run greeter -- --id greeter-3 /, 10_000);
  const banner = npm.output.slice(npm.output.findIndex((l) => /^READY\s/.test(l)));
  return {
    mark,
    npm,
    stateDir,
    consulAddress: `127.0.0.1:${consulPort}`,
    httpBase: `http://127.0.0.1:${httpPort}`,
    greeterPorts,
    echoPort,
    banner,
  };
}

/** The command lines of a banner: lines that start with a command, `\`-continued lines joined. */
function bannerCommands(banner: string[]): string[] {
  const out: string[] = [];
  let pending = '';
  for (const raw of banner) {
    const line = raw.trim();
    if (pending) {
      pending += ` ${line}`;
    } else if (/^(curl|npm|env|node|CONSUL_HTTP_TOKEN=|LOCAL_STACK_DIR=)\s?/.test(line)) {
      pending = line;
    } else continue;
    if (pending.endsWith('\\')) pending = pending.slice(0, -1).trimEnd();
    else {
      out.push(pending);
      pending = '';
    }
  }
  return out;
}

/** Runs `script` in bash -eo pipefail from the repo root; resolves with its exit code and output, never rejects. */
function runShell(
  script: string,
  env: NodeJS.ProcessEnv,
  timeoutMs = COMMAND_TIMEOUT_MS,
): Promise<{ code: number | string; output: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-eo', 'pipefail', '-c', script],
      { cwd: ROOT, env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
        const code = e ? (e.killed ? `killed after ${timeoutMs} ms` : (e.code ?? 1)) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

/**
 * Whether a command's output is an error answer of ours (curl exits 0 on any HTTP status): the
 * `{"error":{"code"…}}` of the greet, status and instances routes, or the rpc route's google.rpc.Status.
 */
const errorBody = (output: string) => /"error"\s*:\s*\{\s*"code"|^\{"code":\d+,"message":/m.test(output);

/**
 * Runs each command; returns a readable account of those that failed. With `answers` (the banner's
 * lines) an error body fails too, while a documented block may show an error answer on purpose.
 */
async function runAll(
  t: TestContext,
  what: string,
  commands: { label: string; script: string }[],
  env: NodeJS.ProcessEnv,
  answers = false,
): Promise<string[]> {
  const failures: string[] = [];
  for (const c of commands) {
    const r = await runShell(c.script, env);
    const ok = r.code === 0 && !(answers && errorBody(r.output));
    t.diagnostic(`${ok ? 'ok  ' : 'FAIL'} ${what} ${c.label}`);
    if (!ok)
      failures.push(
        `${what} ${c.label} (exit ${r.code}):\n--- script ---\n${c.script}\n--- output (last 40 lines) ---\n${r.output.split('\n').slice(-40).join('\n')}`,
      );
  }
  return failures;
}

/** Instance ids of `service` passing in Consul (asked with the stack's management token, over TLS with --tls). */
async function passingInstances(s: Stack, service = 'greeter'): Promise<string[]> {
  const state = readStackState(s.stateDir);
  assert.ok(state, `${s.stateDir}/stack.env`);
  const token = readFileSync(join(s.stateDir, 'management-token'), 'utf8').trim();
  const admin = createConsulApi({ address: state.CONSUL_HTTP_ADDR, token, timeoutMs: 5_000, tls: readConsulTlsFiles({ ...state }) });
  try {
    return await passingIds(admin, service);
  } finally {
    admin.destroy();
  }
}

/** Starts a printed long-running backend command, waits for `id` to pass in Consul as `service`, and returns it running. */
async function startPrinted(s: Stack, id: string, command: string, service = 'greeter'): Promise<ManagedProcess> {
  const p = startProcess(`printed ${id}`, 'bash', ['-eo', 'pipefail', '-c', command], { cwd: ROOT, env: userEnv(s.mark) });
  await eventually(
    async () => (await passingInstances(s, service)).includes(id),
    120_000,
    `${id} (started by the printed command) to pass in Consul`,
  ).catch((err: Error) => assert.fail(`${err.message}\n${command}\n${p.output.slice(-20).join('\n')}`));
  return p;
}

/** The `sh` blocks of a Markdown file that the convention runs, with where they start. */
function shBlocks(file: string): { label: string; code: string }[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const blocks: { label: string; code: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)```sh\s*$/.exec(lines[i] ?? '');
    if (!fence) continue;
    const indent = fence[1]?.length ?? 0;
    let j = i + 1;
    const body: string[] = [];
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j] ?? ''); j++) body.push((lines[j] ?? '').slice(indent));
    let k = i - 1;
    while (k >= 0 && (lines[k] ?? '').trim() === '') k--;
    if (!/^<!--\s*not run:.*-->$/.test((lines[k] ?? '').trim())) blocks.push({ label: `${file}:${i + 1}`, code: body.join('\n') });
    i = j;
  }
  return blocks;
}

/** A block with this stack's URL, state dir, Consul address, Greeter and Echo ports in place of the defaults. */
function rewrite(code: string, s: Stack): string {
  return code
    .replaceAll('http://localhost:3000', s.httpBase)
    .replaceAll('.local-stack/', `${s.stateDir}/`)
    .replaceAll('127.0.0.1:8500', s.consulAddress)
    .replace(/\b50051\b/g, String(s.greeterPorts[0]))
    .replace(/\b50052\b/g, String(s.greeterPorts[1]))
    .replace(/\b50053\b/g, String(s.echoPort));
}

function assertPrintable(banner: string[]): void {
  const text = banner.join('\n');
  assert.doesNotMatch(text, /\bjq\b/, 'no banner line needs jq');
  assert.doesNotMatch(text.replaceAll(' run grpcurl -- ', ' '), /(^|[\s;(])grpcurl\s/m, 'grpcurl only through npm run grpcurl');
  assert.doesNotMatch(text, /serverless invoke local/, 'serverless invoke local cannot load the bundles');
}

describe('printed and documented commands', { skip: process.platform !== 'linux' && 'finds its processes through /proc' }, () => {
  it('prepares the tools once (Consul, moto with the AWS CLI, grpcurl)', { timeout: 900_000 }, () => {
    prepareLocalStackTools();
    ensureAwsCli((l) => console.error(l));
    ensureGrpcurlBinary((l) => console.error(l));
  });

  it(
    'npm start: each banner line, the printed restart of a killed Greeter and Echo, the printed extra Greeter, then every README and docs sh block',
    { timeout: 3_600_000 },
    async (t) => {
      const s = await startStack([]);
      assertPrintable(s.banner);
      const commands = bannerCommands(s.banner);
      const addGreeter = commands.find((c) => / run greeter -- /.test(c));
      assert.ok(addGreeter, s.banner.join('\n'));
      const oneShot = commands.filter((c) => c !== addGreeter);
      assert.ok(oneShot.length >= 8, `the banner's commands:\n${oneShot.join('\n')}`);
      const failures = await runAll(
        t,
        'banner',
        oneShot.map((c, i) => ({ label: `#${i + 1}: ${c.slice(0, 100)}`, script: c })),
        userEnv(s.mark),
        true,
      );

      // kill -9 of greeter-1: the stack prints the command that brings it back, and that command works.
      const greeter = markedProcesses(MARKER, s.mark).find((p) => /node$/.test(p.argv[0] ?? '') && p.argv.includes('greeter-1'));
      assert.ok(greeter, 'greeter-1 runs');
      process.kill(greeter.pid, 'SIGKILL');
      const death = await waitForLine(s.npm, /Bring it back: (.+)$/, 30_000);
      const back = await startPrinted(s, 'greeter-1', death[1] ?? '');
      t.diagnostic('ok   the printed restart brought greeter-1 back');
      // The same for the Echo backend: its printed restart brings it back on its port, for the blocks below.
      const echo = markedProcesses(MARKER, s.mark).find(
        (p) => /node$/.test(p.argv[0] ?? '') && p.argv.some((a) => a.endsWith('echo-main.ts')),
      );
      assert.ok(echo, 'echo-1 runs');
      process.kill(echo.pid, 'SIGKILL');
      const echoDeath = await waitForLine(s.npm, /^✖ echo-1 .*Bring it back: (.+)$/, 30_000);
      const echoBack = await startPrinted(s, 'echo-1', echoDeath[1] ?? '', 'echo');
      t.diagnostic('ok   the printed restart brought echo-1 back');
      // It stays up as the stack's Greeter for the blocks below.
      const extra = await startPrinted(s, 'greeter-3', addGreeter);
      t.diagnostic('ok   the printed line added greeter-3');
      await stopProcess(extra, 'SIGTERM', 10_000);

      const docs = [
        'README.md',
        ...readdirSync(join(ROOT, 'docs'))
          .filter((f) => f.endsWith('.md'))
          .sort()
          .map((f) => `docs/${f}`),
      ];
      const blocks = docs.flatMap(shBlocks).map((b) => ({ label: b.label, script: rewrite(b.code, s) }));
      t.diagnostic(`${blocks.length} sh block(s) to run in ${docs.join(', ')}`);
      failures.push(...(await runAll(t, 'block', blocks, userEnv(s.mark, { LOCAL_STACK_DIR: s.stateDir }))));
      await stopProcess(back, 'SIGTERM', 10_000);
      await stopProcess(echoBack, 'SIGTERM', 10_000);
      assert.deepEqual(failures, [], `${failures.length} command(s) failed:\n\n${failures.join('\n\n')}`);
    },
  );

  it(
    'npm start -- --tls --discovery dns --fallback cloudmap: each banner line works as printed, and invoke:rie of each function',
    { timeout: 1_200_000 },
    async (t) => {
      const s = await startStack(['--tls', '--discovery', 'dns', '--fallback', 'cloudmap']);
      assertPrintable(s.banner);
      const commands = bannerCommands(s.banner);
      const addGreeter = commands.find((c) => / run greeter -- /.test(c));
      assert.ok(addGreeter, s.banner.join('\n'));
      const oneShot = commands.filter((c) => c !== addGreeter);
      assert.ok(
        oneShot.some((c) => / run grpcurl -- -cacert /.test(c)) &&
          oneShot.some((c) => / run aws -- /.test(c)) &&
          oneShot.some((c) => /^node -e /.test(c)),
        `the TLS, cloudmap and dns lines are printed:\n${oneShot.join('\n')}`,
      );
      const failures = await runAll(
        t,
        'tls banner',
        oneShot.map((c, i) => ({ label: `#${i + 1}: ${c.slice(0, 100)}`, script: c })),
        userEnv(s.mark),
        true,
      );
      // invoke:rie finds the TLS stack through its state (CA, client certificate, GREETER_CACERT), as a user runs it.
      failures.push(
        ...(await runAll(
          t,
          'invoke:rie on the TLS stack',
          ['greet', 'status', 'instances', 'healthSync'].map((fn) => ({ label: fn, script: `npm run invoke:rie -- ${fn}` })),
          userEnv(s.mark, { LOCAL_STACK_DIR: s.stateDir }),
        )),
      );
      const extra = await startPrinted(s, 'greeter-3', addGreeter);
      t.diagnostic('ok   the printed line added greeter-3 (TLS)');
      await stopProcess(extra, 'SIGTERM', 10_000);
      assert.deepEqual(failures, [], `${failures.length} command(s) failed:\n\n${failures.join('\n\n')}`);
    },
  );
});
