/**
 * Runs one packaged function in the AWS Lambda Runtime Interface Emulator with the
 * official Node runtime interface client, the way Lambda runs it: the zip extracted
 * into a task root, `_HANDLER` and Lambda's usual environment set, the function's own
 * environment from the packaged template on top, one long-lived runtime process that
 * warm invocations reuse, and Lambda's START / END / REPORT lines parsed per invocation.
 *
 *   aws-lambda-rie --runtime-interface-emulator-address 127.0.0.1:P1 --runtime-api-address 127.0.0.1:P2 \
 *     node <Lambda's node flags> [--import internal-extension.mjs] <ric>/index.mjs <handler>
 *
 * What the emulator does and does not do (aws-lambda-rie, pinned in scripts/rie-build):
 * - Init runs lazily, inside the first invocation. Its REPORT line then carries an
 *   "Init Duration" that only measures the emulator's bookkeeping (well under 1 ms); the
 *   real init (process start, handler load) is the "INIT REPORT(durationMs: …)" log line,
 *   reported here as `runtimeInitMs`, and it is also part of that invocation's Duration.
 * - "Max Memory Used" always equals "Memory Size": the emulator does not measure memory.
 *   `peakRssMb` is the runtime process's real peak RSS (VmHWM), read from /proc.
 * - No memory limit is enforced. The runtime is the pinned Node of the template's runtime
 *   (nodejs22.x: scripts/rie/runtime-node.ts), started with the flags Lambda's bootstrap passes
 *   for the function's memory (scripts/esbuild/lambda-node.cjs), so a packaged V8 code cache is
 *   used or refused as in Lambda.
 * - On SIGTERM the emulator shuts the sandbox down like Lambda: if an extension is
 *   registered it sends the runtime SIGTERM and SIGKILLs it 600 ms later, otherwise it
 *   SIGKILLs it at once. `sigtermExtension` (default on) registers a do-nothing internal
 *   extension (scripts/rie/internal-extension.mjs) so the runtime does get SIGTERM.
 *
 * The runtime process runs in its own process group (the emulator's choice), so
 * `stop()` kills what is left of it after the emulator exits, and temp dirs go too.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, startProcess, stopProcess, type ManagedProcess } from '../stack/processes';
import { pollWhileRunning } from '../support/poll-until';
import type { PackagedFunction } from './package-functions';
import { ensureRic } from './ric';
import { ensureRuntimeNode } from './runtime-node';
import { ensureRieBinary } from './rie-binary';
import { extractZip } from './zip';
import { childPids, isRuntime, killGroups, peakRssMb, trackRuntime } from './runtime-processes';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- shared with the esbuild plugins, which are CommonJS
const { lambdaNodeArgs } = require('../esbuild/lambda-node.cjs') as { lambdaNodeArgs: (memoryMb: number) => string[] };

const INTERNAL_EXTENSION = join(__dirname, 'internal-extension.mjs');
/** Stands in for the runtime's /var/runtime/node_modules (the AWS SDK v3 the Lambda Node.js runtime ships). */
const RUNTIME_NODE_MODULES = join(__dirname, '..', '..', 'node_modules');

/** Options of one emulated execution environment. */
export interface LambdaRieOptions {
  fn: PackagedFunction;
  /** Set (or, with undefined, remove) variables on top of the packaged environment: CONSUL_HTTP_ADDR, tokens, keys. */
  env?: Record<string, string | undefined>;
  /** Register an internal extension so that shutdown SIGTERMs the runtime (default true). */
  sigtermExtension?: boolean;
  /** Node binary of the runtime (default: the pinned Node of the functions' Lambda runtime, scripts/rie/runtime-node.ts). */
  node?: string;
  echo?: (line: string) => void;
  log?: (line: string) => void;
  readyTimeoutMs?: number;
}

/** One REPORT line. */
export interface RieReport {
  requestId: string;
  /** Only on the cold invocation; see the header comment for what it measures. */
  initDurationMs?: number;
  durationMs: number;
  billedDurationMs: number;
  memorySizeMb: number;
  maxMemoryUsedMb: number;
  line: string;
}

/** One invocation through the emulator's Invoke API. */
export interface RieInvocation {
  requestId: string;
  /** HTTP status of the Invoke API (200 also for a function error; see `payload.errorType`). */
  status: number;
  body: string;
  /** The parsed response, if JSON. */
  payload: unknown;
  report: RieReport;
  /** The init phase as the emulator measured it ("INIT REPORT"), on the cold invocation only. */
  runtimeInitMs?: number;
  runtimePid?: number;
  /** Peak RSS of the runtime process so far, from /proc (Linux). */
  peakRssMb?: number;
  /** Output lines from START to REPORT of this invocation (the function's logs among them). */
  logs: string[];
}

/** A running emulator with one function. */
export interface LambdaRie {
  fn: PackagedFunction;
  endpoint: string;
  /** AWS_LAMBDA_LOG_STREAM_NAME of this environment (unique; the lease carries it in its meta). */
  logStreamName: string;
  taskRoot: string;
  process: ManagedProcess;
  invoke(event: unknown, opts?: { timeoutMs?: number }): Promise<RieInvocation>;
  /** The runtime process (a child of the emulator), once started by the first invocation. */
  runtimePid(): number | undefined;
  /** SIGTERM to the emulator (its sandbox shutdown), then cleanup; safe to call twice. */
  stop(): Promise<void>;
}

/** Parses a REPORT line; undefined if it is not one. */
export function parseReportLine(line: string): RieReport | undefined {
  const m = /^REPORT RequestId: (\S+)\t(.*)$/.exec(line);
  if (!m?.[1]) return undefined;
  const fields = new Map<string, number>();
  for (const part of (m[2] ?? '').split('\t')) {
    const f = /^([A-Za-z ]+): ([\d.]+) (?:ms|MB)$/.exec(part.trim());
    if (f?.[1] && f[2]) fields.set(f[1], Number(f[2]));
  }
  const need = (k: string) => {
    const v = fields.get(k);
    if (v === undefined) throw new Error(`REPORT line without ${k}: ${line}`);
    return v;
  };
  return {
    requestId: m[1],
    initDurationMs: fields.get('Init Duration'),
    durationMs: need('Duration'),
    billedDurationMs: need('Billed Duration'),
    memorySizeMb: need('Memory Size'),
    maxMemoryUsedMb: need('Max Memory Used'),
    line,
  };
}

async function waitUntilListening(port: number, proc: ManagedProcess, timeoutMs: number): Promise<void> {
  await pollWhileRunning(
    proc,
    () =>
      new Promise<true | undefined>((resolve) => {
        const s = connect({ host: '127.0.0.1', port }, () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(undefined));
      }),
    `aws-lambda-rie to listen on 127.0.0.1:${port}`,
    { timeoutMs, intervalMs: 50 },
  );
}

/** Lambda's log stream name shape: date/[version]hex. */
function logStreamName(): string {
  const d = new Date();
  const day = `${d.getUTCFullYear()}/${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String(d.getUTCDate()).padStart(2, '0')}`;
  return `${day}/[$LATEST]${randomBytes(16).toString('hex')}`;
}

/**
 * The runtime's environment, as Lambda gives it: clean (nothing leaks in from the caller's shell
 * except AWS credentials, a role's in Lambda), Lambda's variables, the packaged function's own
 * environment, then what the caller sets (undefined removes).
 */
function lambdaEnvironment(
  o: LambdaRieOptions,
  at: { taskRoot: string; ric: string; node: string; stream: string },
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: `${dirname(at.node)}:/usr/local/bin:/usr/bin:/bin`,
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    LAMBDA_TASK_ROOT: at.taskRoot,
    LAMBDA_RUNTIME_DIR: at.ric,
    _HANDLER: o.fn.handler,
    AWS_EXECUTION_ENV: `AWS_Lambda_${o.fn.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: o.fn.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(o.fn.memorySize),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    // Read by the emulator: the invocation timeout.
    AWS_LAMBDA_FUNCTION_TIMEOUT: String(o.fn.timeout),
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${o.fn.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: at.stream,
    AWS_REGION: o.fn.region,
    AWS_DEFAULT_REGION: o.fn.region,
    // Lambda's Node runtime puts its SDK v3 on NODE_PATH (/var/runtime/node_modules); the bundles
    // leave @aws-sdk/client-ssm and -servicediscovery to it, so the repo's node_modules stands in.
    NODE_PATH: RUNTIME_NODE_MODULES,
    ...o.fn.environment,
  };
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
    const v = process.env[k];
    if (v) env[k] = v;
  }
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** The emulator's arguments: both APIs on the given loopback ports (never its default 0.0.0.0:8080), then the bootstrap. */
function emulatorArgs(o: LambdaRieOptions, at: { ric: string; node: string; invokePort: number; runtimePort: number }): string[] {
  const bootstrap = [
    at.node,
    // As Lambda's bootstrap starts it: the same V8 flags, so the packaged code cache is judged as there.
    ...lambdaNodeArgs(o.fn.memorySize),
    ...(o.sigtermExtension === false ? [] : ['--import', INTERNAL_EXTENSION]),
    join(at.ric, 'index.mjs'),
    o.fn.handler,
  ];
  return [
    '--log-level',
    'info',
    '--runtime-interface-emulator-address',
    `127.0.0.1:${at.invokePort}`,
    '--runtime-api-address',
    `127.0.0.1:${at.runtimePort}`,
    ...bootstrap,
  ];
}

/** Two distinct free loopback ports (freePort releases the port it found, so a second call may hand out the same one). */
async function twoFreePorts(): Promise<[number, number]> {
  const a = await freePort();
  let b = await freePort();
  while (b === a) b = await freePort();
  return [a, b];
}

/** What one invocation's output lines tell: its init (on the cold one), its lines from START, its REPORT. */
function invocationLog(requestId: string) {
  const seen = { logs: [] as string[], runtimeInitMs: undefined as number | undefined, report: undefined as RieReport | undefined };
  let collecting = false;
  let onReport: (() => void) | undefined;
  const listener = (line: string) => {
    // The emulator runs one invocation at a time, and init inside the first: an INIT REPORT now is ours.
    const init = /\(rapid\) INIT REPORT\(durationMs: ([\d.]+)\)/.exec(line);
    if (init?.[1]) seen.runtimeInitMs = Number(init[1]);
    if (line.startsWith(`START RequestId: ${requestId}`)) collecting = true;
    if (!collecting) return;
    seen.logs.push(line);
    const r = parseReportLine(line);
    if (r?.requestId === requestId) {
      seen.report = r;
      onReport?.();
    }
  };
  /** Resolves with the REPORT line: the emulator prints it before it answers, but its stdout may be read after the answer. */
  const report = (p: ManagedProcess) =>
    new Promise<RieReport>((resolve, reject) => {
      if (seen.report) return resolve(seen.report);
      const timer = setTimeout(
        () => reject(new Error(`no REPORT line for ${requestId} within 5 s:\n${p.output.slice(-20).join('\n')}`)),
        5_000,
      );
      onReport = () => {
        clearTimeout(timer);
        if (seen.report) resolve(seen.report);
      };
    });
  return { seen, listener, report };
}

/** One invocation through the Invoke API of `p`, with its REPORT and the runtime's pid and peak RSS. */
async function invokeOnce(
  p: ManagedProcess,
  endpoint: string,
  event: unknown,
  timeoutMs: number,
  runtime: () => number | undefined,
): Promise<RieInvocation> {
  const requestId = randomUUID();
  const log = invocationLog(requestId);
  p.lineListeners.add(log.listener);
  try {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-amzn-requestid': requestId },
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await res.text();
    const report = await log.report(p);
    let payload: unknown;
    try {
      payload = JSON.parse(body);
    } catch {
      payload = undefined;
    }
    const pid = runtime();
    return {
      requestId,
      status: res.status,
      body,
      payload,
      report,
      runtimeInitMs: log.seen.runtimeInitMs,
      runtimePid: pid,
      peakRssMb: pid === undefined ? undefined : peakRssMb(pid),
      logs: log.seen.logs,
    };
  } finally {
    p.lineListeners.delete(log.listener);
  }
}

/** Starts the emulator for `o.fn` and resolves once its Invoke API listens (the runtime starts on the first invocation). */
export async function startLambdaRie(o: LambdaRieOptions): Promise<LambdaRie> {
  const rie = ensureRieBinary(o.log);
  const ric = ensureRic(o.log);
  const node = o.node ?? ensureRuntimeNode(o.log);
  const taskRoot = mkdtempSync(join(tmpdir(), `consul-grpc-lambda-task-${o.fn.name}-`));
  const removeTaskRoot = () => rmSync(taskRoot, { recursive: true, force: true });
  let proc: ManagedProcess | undefined;
  try {
    extractZip(o.fn.zip, taskRoot);
    const [invokePort, runtimePort] = await twoFreePorts();
    const stream = logStreamName();
    const env = lambdaEnvironment(o, { taskRoot, ric, node, stream });
    const p = startProcess(`aws-lambda-rie ${o.fn.name}`, rie, emulatorArgs(o, { ric, node, invokePort, runtimePort }), {
      cwd: taskRoot,
      env,
      echo: o.echo,
    });
    proc = p;
    await waitUntilListening(invokePort, p, o.readyTimeoutMs ?? 10_000);
    return environmentHandle(o, p, {
      endpoint: `http://127.0.0.1:${invokePort}/2015-03-31/functions/function/invocations`,
      stream,
      taskRoot,
      ric,
    });
  } catch (err) {
    if (proc) {
      const kids = childPids(proc.child.pid ?? -1);
      await stopProcess(proc, 'SIGKILL', 1_000);
      killGroups(kids);
    }
    removeTaskRoot();
    throw err;
  }
}

/** The handle of a listening emulator: invocations, and a stop that leaves no runtime and no task root. */
function environmentHandle(
  o: LambdaRieOptions,
  p: ManagedProcess,
  at: { endpoint: string; stream: string; taskRoot: string; ric: string },
): LambdaRie {
  const runtimePids = () => childPids(p.child.pid ?? -1);
  let stopped = false;
  // Runtime pids this environment has had; the exit hook knows them all.
  const mine = new Set<number>();
  const runtime = () => {
    const pid = runtimePids()[0];
    if (pid !== undefined) {
      mine.add(pid);
      trackRuntime(pid);
    }
    return pid;
  };
  return {
    fn: o.fn,
    endpoint: at.endpoint,
    logStreamName: at.stream,
    taskRoot: at.taskRoot,
    process: p,
    runtimePid: () => runtimePids()[0],
    invoke: (event, opts = {}) => invokeOnce(p, at.endpoint, event, opts.timeoutMs ?? o.fn.timeout * 1000 + 10_000, runtime),
    async stop() {
      if (stopped) return;
      stopped = true;
      const runtimes = new Set([...runtimePids(), ...[...mine].filter((pid) => isRuntime(pid, at.ric))]);
      try {
        // The emulator's own shutdown: SIGTERM to the runtime (extension registered) or SIGKILL.
        await stopProcess(p, 'SIGTERM', 5_000);
      } finally {
        killGroups(runtimes);
        rmSync(at.taskRoot, { recursive: true, force: true });
      }
    },
  };
}
