/**
 * Runs one packaged function in the AWS Lambda Runtime Interface Emulator with the
 * official Node runtime interface client, the way Lambda runs it: the zip extracted
 * into a task root, `_HANDLER` and Lambda's usual environment set, the function's own
 * environment from the packaged template on top, one long-lived runtime process that
 * warm invocations reuse, and Lambda's START / END / REPORT lines parsed per invocation.
 *
 *   aws-lambda-rie --runtime-interface-emulator-address 127.0.0.1:P1 --runtime-api-address 127.0.0.1:P2 \
 *     node [--import internal-extension.mjs] <ric>/index.mjs <handler>
 *
 * What the emulator does and does not do (aws-lambda-rie, pinned in scripts/rie-build):
 * - Init runs lazily, inside the first invocation. Its REPORT line then carries an
 *   "Init Duration" that only measures the emulator's bookkeeping (well under 1 ms); the
 *   real init (process start, handler load) is the "INIT REPORT(durationMs: …)" log line,
 *   reported here as `runtimeInitMs`, and it is also part of that invocation's Duration.
 * - "Max Memory Used" always equals "Memory Size": the emulator does not measure memory.
 *   `peakRssMb` is the runtime process's real peak RSS (VmHWM), read from /proc.
 * - No memory limit is enforced, and the runtime is whatever Node runs this harness
 *   (the template may say nodejs22.x; the bundles target node20).
 * - On SIGTERM the emulator shuts the sandbox down like Lambda: if an extension is
 *   registered it sends the runtime SIGTERM and SIGKILLs it 600 ms later, otherwise it
 *   SIGKILLs it at once. `sigtermExtension` (default on) registers a do-nothing internal
 *   extension (scripts/rie/internal-extension.mjs) so the runtime does get SIGTERM.
 *
 * The runtime process runs in its own process group (the emulator's choice), so
 * `stop()` kills what is left of it after the emulator exits, and temp dirs go too.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, startProcess, stopProcess, type ManagedProcess } from '../stack/processes';
import type { PackagedFunction } from './package-functions';
import { ensureRic } from './ric';
import { ensureRieBinary } from './rie-binary';
import { extractZip } from './zip';

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
  /** Node binary of the runtime (default: the one running this). */
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

/** Pids of the direct children of `pid` (Linux /proc; empty elsewhere). */
function childPids(pid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // Fields after the command (which may hold spaces) start after the last ')'.
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function peakRssMb(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Math.round((Number(m[1]) / 1024) * 10) / 10 : undefined;
  } catch {
    return undefined;
  }
}

/** True while `pid` is still a runtime started from `ricDir` (guards against a reused pid). */
function isRuntime(pid: number, ricDir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(ricDir, 'index.mjs'));
  } catch {
    return false;
  }
}

// Runtime process groups still alive when this process exits are killed (they are not the emulator's group).
const liveRuntimes = new Set<number>();
process.on('exit', () => {
  for (const pid of liveRuntimes) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

async function waitUntilListening(port: number, proc: ManagedProcess, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null)
      throw new Error(`aws-lambda-rie exited before listening:\n${proc.output.slice(-20).join('\n')}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`aws-lambda-rie not listening on 127.0.0.1:${port} within ${timeoutMs} ms:\n${proc.output.slice(-20).join('\n')}`);
}

/** Lambda's log stream name shape: date/[version]hex. */
function logStreamName(): string {
  const d = new Date();
  const day = `${d.getUTCFullYear()}/${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String(d.getUTCDate()).padStart(2, '0')}`;
  return `${day}/[$LATEST]${randomBytes(16).toString('hex')}`;
}

/** Starts the emulator for `o.fn` and resolves once its Invoke API listens (the runtime starts on the first invocation). */
export async function startLambdaRie(o: LambdaRieOptions): Promise<LambdaRie> {
  const rie = ensureRieBinary(o.log);
  const ric = ensureRic(o.log);
  const node = o.node ?? process.execPath;
  const taskRoot = mkdtempSync(join(tmpdir(), `consul-grpc-lambda-task-${o.fn.name}-`));
  const removeTaskRoot = () => rmSync(taskRoot, { recursive: true, force: true });
  let proc: ManagedProcess | undefined;
  try {
    extractZip(o.fn.zip, taskRoot);
    const invokePort = await freePort();
    let runtimePort = await freePort();
    // freePort releases the port it found, so a second call may hand out the same one.
    while (runtimePort === invokePort) runtimePort = await freePort();
    const stream = logStreamName();
    // A clean environment, as Lambda gives: nothing leaks in from the caller's shell except
    // AWS credentials (a role's, in Lambda) and what the caller sets explicitly.
    const env: Record<string, string> = {
      PATH: `${dirname(node)}:/usr/local/bin:/usr/bin:/bin`,
      LANG: 'en_US.UTF-8',
      TZ: ':UTC',
      LAMBDA_TASK_ROOT: taskRoot,
      LAMBDA_RUNTIME_DIR: ric,
      _HANDLER: o.fn.handler,
      AWS_EXECUTION_ENV: `AWS_Lambda_${o.fn.runtime}`,
      AWS_LAMBDA_FUNCTION_NAME: o.fn.functionName,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(o.fn.memorySize),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      // Read by the emulator: the invocation timeout.
      AWS_LAMBDA_FUNCTION_TIMEOUT: String(o.fn.timeout),
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${o.fn.functionName}`,
      AWS_LAMBDA_LOG_STREAM_NAME: stream,
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
    const bootstrap = [
      node,
      ...(o.sigtermExtension === false ? [] : ['--import', INTERNAL_EXTENSION]),
      join(ric, 'index.mjs'),
      o.fn.handler,
    ];
    // Never the emulator's default 0.0.0.0:8080: both APIs on free loopback ports.
    const args = [
      '--log-level',
      'info',
      '--runtime-interface-emulator-address',
      `127.0.0.1:${invokePort}`,
      '--runtime-api-address',
      `127.0.0.1:${runtimePort}`,
      ...bootstrap,
    ];
    const p = startProcess(`aws-lambda-rie ${o.fn.name}`, rie, args, { cwd: taskRoot, env, echo: o.echo });
    proc = p;
    await waitUntilListening(invokePort, p, o.readyTimeoutMs ?? 10_000);

    const endpoint = `http://127.0.0.1:${invokePort}/2015-03-31/functions/function/invocations`;
    const runtimePids = () => childPids(p.child.pid ?? -1);
    let stopped = false;
    // Runtime pids this environment has had; the exit hook knows them all.
    const mine = new Set<number>();
    const handle: LambdaRie = {
      fn: o.fn,
      endpoint,
      logStreamName: stream,
      taskRoot,
      process: p,
      runtimePid: () => runtimePids()[0],
      async invoke(event, opts = {}) {
        const requestId = randomUUID();
        const logs: string[] = [];
        let runtimeInitMs: number | undefined;
        let report: RieReport | undefined;
        let onReport: (() => void) | undefined;
        let collecting = false;
        const listener = (line: string) => {
          // The emulator runs one invocation at a time, and init inside the first: an INIT REPORT now is ours.
          const init = /\(rapid\) INIT REPORT\(durationMs: ([\d.]+)\)/.exec(line);
          if (init?.[1]) runtimeInitMs = Number(init[1]);
          if (line.startsWith(`START RequestId: ${requestId}`)) collecting = true;
          if (!collecting) return;
          logs.push(line);
          const r = parseReportLine(line);
          if (r?.requestId === requestId) {
            report = r;
            onReport?.();
          }
        };
        p.lineListeners.add(listener);
        try {
          const timeoutMs = opts.timeoutMs ?? o.fn.timeout * 1000 + 10_000;
          const res = await fetch(endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-amzn-requestid': requestId },
            body: JSON.stringify(event),
            signal: AbortSignal.timeout(timeoutMs),
          });
          const body = await res.text();
          // The emulator prints REPORT before it answers, but its stdout may be read after the answer.
          if (!report) {
            await new Promise<void>((resolve, reject) => {
              const timer = setTimeout(
                () => reject(new Error(`no REPORT line for ${requestId} within 5 s:\n${p.output.slice(-20).join('\n')}`)),
                5_000,
              );
              onReport = () => {
                clearTimeout(timer);
                resolve();
              };
              if (report) onReport();
            });
          }
          let payload: unknown;
          try {
            payload = JSON.parse(body);
          } catch {
            payload = undefined;
          }
          const pid = runtimePids()[0];
          if (pid !== undefined) {
            mine.add(pid);
            liveRuntimes.add(pid);
          }
          return {
            requestId,
            status: res.status,
            body,
            payload,
            report: report as RieReport,
            runtimeInitMs,
            runtimePid: pid,
            peakRssMb: pid === undefined ? undefined : peakRssMb(pid),
            logs,
          };
        } finally {
          p.lineListeners.delete(listener);
        }
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        const runtimes = new Set([...runtimePids(), ...[...mine].filter((pid) => isRuntime(pid, ric))]);
        try {
          // The emulator's own shutdown: SIGTERM to the runtime (extension registered) or SIGKILL.
          await stopProcess(p, 'SIGTERM', 5_000);
        } finally {
          for (const pid of runtimes) {
            try {
              process.kill(-pid, 'SIGKILL');
            } catch {
              // already gone
            }
            liveRuntimes.delete(pid);
          }
          removeTaskRoot();
        }
      },
    };
    return handle;
  } catch (err) {
    if (proc) {
      const kids = childPids(proc.child.pid ?? -1);
      await stopProcess(proc, 'SIGKILL', 1_000);
      for (const pid of kids) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    removeTaskRoot();
    throw err;
  }
}
