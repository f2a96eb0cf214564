// `npm start` as a developer runs it: the real local stack (Consul, moto, two Greeters, an Echo
// backend, serverless-offline) on free ports, with its state files in a temp dir. The rpc function
// answers with its own token: the Greeter's SayHello and an Echo method, plaintext and with --tls. When one of its
// infrastructure processes dies (here the Consul agent, SIGKILLed) the stack must say which, stop
// every other child and exit non-zero: nothing may be left running. (A dead Greeter does not stop
// it: stack-lifecycle.test.ts.)
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startProcess, waitForLine, type ManagedProcess } from '../../scripts/stack/processes';
import { eventually } from './harness';
import { describeProcesses, killMarked, localStackArgs, markedProcesses, prepareLocalStackTools } from './local-stack-run';

const ROOT = join(__dirname, '..', '..');
/** Every process the stack starts inherits this variable, so we can find them all, orphans too. */
const MARKER = 'CONSUL_GRPC_LAMBDA_STACK_TEST_RUN';
const runId = randomUUID();

/** POST /rpc/<method> with a JSON body: its status and JSON answer. */
async function rpc(httpPort: number, method: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/rpc/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The rpc route answers the Greeter's SayHello and Echo's Say, each from a real backend of the stack. */
async function assertRpcAnswers(httpPort: number): Promise<void> {
  const hello = await rpc(httpPort, 'helloworld.Greeter/SayHello', { name: 'Ada' });
  assert.equal(hello.status, 200, JSON.stringify(hello.body));
  assert.match(String(hello.body.message), /^Hello, Ada! \(from greeter-[12]\)$/);
  const say = await rpc(httpPort, 'echo.v1.Echo/Say', { message: 'hi', mood: 'MOOD_HAPPY' });
  assert.equal(say.status, 200, JSON.stringify(say.body));
  assert.deepEqual(say.body, { echoed: { message: 'hi', mood: 'MOOD_HAPPY' }, servedBy: 'echo-1' });
}

/** Live (not zombie) processes started by this test's stack, the stack itself included. */
const stackProcesses = () => markedProcesses(MARKER, runId);

let stack: ManagedProcess | undefined;
let stateDir = '';

before(() => {
  prepareLocalStackTools();
  stateDir = mkdtempSync(join(tmpdir(), 'consul-grpc-lambda-stack-state-'));
});

after(() => {
  // Whatever happened above: nothing the stack started may outlive the test.
  killMarked(MARKER, [runId], stack?.child.pid !== undefined ? [stack.child.pid] : []);
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe('local stack (npm start)', { skip: process.platform !== 'linux' && 'finds its processes through /proc' }, () => {
  it('says which process died, stops all the others and exits non-zero when Consul is SIGKILLed', { timeout: 300_000 }, async () => {
    const { args, httpPort } = await localStackArgs(stateDir);
    stack = startProcess('local stack', process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'local-stack.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, [MARKER]: runId },
    });
    const s = stack;
    await waitForLine(s, /^READY\s/, 180_000);

    // Its state files went to the dir we gave it, and the printed commands name them by absolute path.
    for (const f of ['management-token', 'registry-api-key', 'health-sync.env', 'greeter-backend-token', 'echo-backend-token'])
      assert.ok(existsSync(join(stateDir, f)), `${f} in ${stateDir}`);
    const printed = s.output.join('\n');
    const statusCurl = s.output.find((l) => l.includes('/status -H')) ?? '';
    assert.ok(statusCurl.includes('$(cat ') && statusCurl.includes(join(stateDir, 'registry-api-key')), printed);
    assert.doesNotMatch(printed, /NodeVersionSupportWarning/);

    const running = stackProcesses();
    const role = (re: RegExp) => running.filter((p) => re.test(p.argv.join(' ')));
    const [consul, ...moreConsuls] = role(/(^|\/)consul agent -dev /);
    assert.ok(consul && moreConsuls.length === 0, `one Consul agent among:\n${describeProcesses(running)}`);
    assert.equal(role(/greeter-service\/main\.ts/).length, 2, describeProcesses(running));
    assert.equal(role(/greeter-service\/echo-main\.ts/).length, 1, describeProcesses(running));
    assert.equal(role(/moto_server/).length, 1, describeProcesses(running));
    assert.equal(role(/serverless\.js offline start/).length, 1, describeProcesses(running));
    const consulDataDir = dirname(consul.argv[consul.argv.indexOf('-data-dir') + 1] ?? '');
    await assertRpcAnswers(httpPort);

    process.kill(consul.pid, 'SIGKILL');

    await eventually(() => s.child.exitCode !== null || s.child.signalCode !== null, 30_000, 'the stack to exit').catch((err: Error) => {
      assert.fail(`${err.message}; its output:\n${s.output.slice(-40).join('\n')}`);
    });
    const out = s.output.join('\n');
    assert.equal(s.child.signalCode, null, out);
    assert.notEqual(s.child.exitCode, 0, out);
    assert.match(out, new RegExp(`✖ consul \\(pid ${consul.pid}\\) was killed by SIGKILL unexpectedly; its last \\d+ output line`), out);
    assert.match(out, /• stopped$/m, out);

    // The stack waits for its children before it exits; their helpers (tsx's esbuild) follow at once.
    await eventually(() => stackProcesses().length === 0, 10_000, 'every process of the stack to be gone').catch(() => {
      assert.fail(`left running after the stack exited:\n${describeProcesses(stackProcesses())}`);
    });
    assert.ok(consulDataDir.startsWith(tmpdir()) && !existsSync(consulDataDir), `Consul's data dir ${consulDataDir} removed`);
  });
  it(
    '--tls: Consul over HTTPS only, Greeters over TLS, /hello answers; Ctrl-C removes every certificate and key',
    { timeout: 300_000 },
    async () => {
      const { args, consulPort, httpPort } = await localStackArgs(stateDir, ['--tls']);
      stack = startProcess('local stack --tls', process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'local-stack.ts'), ...args], {
        cwd: ROOT,
        env: { ...process.env, [MARKER]: runId },
      });
      const s = stack;
      await waitForLine(s, /^READY\s/, 180_000);
      const printed = s.output.join('\n');
      const consulTlsDir = /CA and client certificate in (\S+)/.exec(printed)?.[1] ?? '';
      const greeterCa = /grpcurl (?:-- )?-cacert (\S+)/.exec(printed)?.[1] ?? '';
      assert.ok(existsSync(join(consulTlsDir, 'functions-client-key.pem')) && existsSync(greeterCa), printed);
      // The CAs' private keys signed what the stack needs and are gone: nothing can sign more.
      assert.ok(
        !existsSync(join(consulTlsDir, 'consul-agent-ca-key.pem')) && !existsSync(join(dirname(greeterCa), 'greeter-agent-ca-key.pem')),
        'CA keys removed once used',
      );

      const plain = await fetch(`http://127.0.0.1:${consulPort}/v1/status/leader`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(plain.status, 400, 'Consul answers plain HTTP only with 400');
      const hello = await fetch(`http://127.0.0.1:${httpPort}/hello/Ada`, { signal: AbortSignal.timeout(30_000) });
      const body = (await hello.json()) as { message?: string };
      assert.equal(hello.status, 200, JSON.stringify(body));
      assert.match(body.message ?? '', /^Hello, Ada! \(from greeter-[12]\)$/);
      // The rpc function reaches the Greeters over TLS (transport tls, GREETER_CACERT) and the Echo backend in plaintext.
      await assertRpcAnswers(httpPort);
      assert.match(printed, /Echo echo-1 on 127\.0\.0\.1:\d+ \(plaintext: the Echo backend has no TLS option\)/);

      process.kill(s.child.pid ?? 0, 'SIGINT');
      await eventually(() => s.child.exitCode !== null || s.child.signalCode !== null, 30_000, 'the stack to exit');
      assert.equal(s.child.exitCode, 0, s.output.slice(-20).join('\n'));
      assert.ok(!existsSync(consulTlsDir), `${consulTlsDir} removed`);
      assert.ok(!existsSync(dirname(greeterCa)), `${dirname(greeterCa)} removed`);
      await eventually(() => stackProcesses().length === 0, 10_000, 'every process of the stack to be gone');
    },
  );
  it(
    '--discovery dns --fallback cloudmap: CoreDNS in front of Consul DNS serves /hello, /status names the sources',
    { timeout: 300_000 },
    async () => {
      const { args, httpPort } = await localStackArgs(stateDir, ['--discovery', 'dns', '--fallback', 'cloudmap']);
      stack = startProcess(
        'local stack --discovery dns',
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'scripts', 'local-stack.ts'), ...args],
        {
          cwd: ROOT,
          env: { ...process.env, [MARKER]: runId },
        },
      );
      const s = stack;
      await waitForLine(s, /^READY\s/, 240_000);
      const running = stackProcesses();
      assert.equal(running.filter((p) => /coredns/.test(p.argv.join(' '))).length, 1, describeProcesses(running));

      const hello = await fetch(`http://127.0.0.1:${httpPort}/hello/Ada`, { signal: AbortSignal.timeout(30_000) });
      const body = (await hello.json()) as { message?: string; servedBy?: { id: string } };
      assert.equal(hello.status, 200, JSON.stringify(body));
      // DNS carries no service id: an instance is named by its address and port.
      assert.match(body.servedBy?.id ?? '', /^127\.0\.0\.1:\d+$/);
      const key = readFileSync(join(stateDir, 'registry-api-key'), 'utf8').trim();
      const status = (await (
        await fetch(`http://127.0.0.1:${httpPort}/status`, { headers: { 'x-api-key': key }, signal: AbortSignal.timeout(30_000) })
      ).json()) as {
        discoverySource?: { source: string; fallbacks: string[] };
        discovery?: { servedBy: string | null }[];
      };
      assert.equal(status.discoverySource?.source, 'dns', JSON.stringify(status));
      assert.deepEqual(status.discoverySource?.fallbacks, ['cloudmap']);
      assert.ok(
        status.discovery?.some((d) => d.servedBy === 'dns'),
        JSON.stringify(status.discovery),
      );

      process.kill(s.child.pid ?? 0, 'SIGINT');
      await eventually(() => s.child.exitCode !== null || s.child.signalCode !== null, 30_000, 'the stack to exit');
      assert.equal(s.child.exitCode, 0, s.output.slice(-20).join('\n'));
      await eventually(() => stackProcesses().length === 0, 10_000, 'every process of the stack to be gone');
    },
  );
});
