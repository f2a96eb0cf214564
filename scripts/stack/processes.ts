/**
 * Child processes of the local stack and the test harness, tracked so that
 * every one is stopped at the end, also when a test fails or the parent is
 * interrupted. Each child gets its own process group, so helpers it spawns
 * (npx, worker processes) die with it.
 *
 * Supervision is opt-in (`supervise`): the local stack wants to hear when a
 * child dies on its own, while tests kill backends on purpose.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { guardGroup, OWNER_ENV, ownerTag } from './lifecycle';

/** A started child with its name and collected output. */
export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  output: string[];
  /** Called with every output line; see waitForLine. */
  lineListeners: Set<(line: string) => void>;
  exited: Promise<number | null>;
  /** True once stopProcess/stopAll asked it to stop: its exit is then expected. */
  stopRequested: boolean;
}

/** A child that exited while nobody was stopping it. */
export interface UnexpectedExit {
  name: string;
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Its last output lines (stdout and stderr, interleaved as read). */
  lastLines: string[];
}

const live = new Set<ManagedProcess>();
let onUnexpectedExit: ((exit: UnexpectedExit) => void) | undefined;
let stoppingAll = false;

/**
 * Opts in to supervision: `handler` is called once for each tracked child that
 * exits while neither stopProcess nor stopAll was asked to stop it (a crash,
 * a SIGKILL from outside). Returns a function that ends the supervision.
 */
export function supervise(handler: (exit: UnexpectedExit) => void): () => void {
  onUnexpectedExit = handler;
  return () => {
    if (onUnexpectedExit === handler) onUnexpectedExit = undefined;
  };
}

/** One readable paragraph: which child, how it ended, its last output lines. */
export function describeUnexpectedExit(e: UnexpectedExit, lines = 10): string {
  const how = e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
  const tail = e.lastLines.slice(-lines);
  const out = tail.length ? `its last ${tail.length} output line(s):\n${tail.map((l) => `    | ${l}`).join('\n')}` : 'it printed nothing';
  return `✖ ${e.name} (pid ${e.pid ?? '?'}) ${how} unexpectedly; ${out}`;
}

function killGroup(p: ManagedProcess, signal: NodeJS.Signals): void {
  if (p.child.exitCode !== null || p.child.signalCode !== null || p.child.pid === undefined) return;
  try {
    process.kill(-p.child.pid, signal);
  } catch {
    p.child.kill(signal);
  }
}

// Last line of defence: never leave children behind when the parent exits.
process.on('exit', () => {
  for (const p of live) killGroup(p, 'SIGKILL');
});

/** Spawns a tracked child in its own process group; output lines are kept and optionally echoed. */
export function startProcess(
  name: string,
  cmd: string,
  args: string[],
  opts: SpawnOptions & { echo?: (line: string) => void } = {},
): ManagedProcess {
  // OWNER_ENV lets a later start find and stop it if we die without cleaning up (lifecycle.ts).
  const env = { ...(opts.env ?? process.env), [OWNER_ENV]: ownerTag() };
  const child = spawn(cmd, args, { ...opts, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  // The watchdog stops its group if this process is SIGKILLed (no exit handler runs then).
  const guard = child.pid !== undefined ? guardGroup(child.pid) : undefined;
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const p: ManagedProcess = { name, child, output, lineListeners: new Set(), exited, stopRequested: false };
  live.add(p);
  void exited.then(() => {
    live.delete(p);
    guard?.release();
  });
  child.once('exit', (code, signal) => {
    if (p.stopRequested || stoppingAll || !onUnexpectedExit) return;
    // Helpers it started (its process group) must not outlive it.
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // group already empty
      }
    }
    // 'close' comes once its pipes are drained, so the last lines are in `output`;
    // don't wait on a pipe that a surviving helper might still hold open.
    let reported = false;
    const report = () => {
      if (reported) return;
      reported = true;
      clearTimeout(timer);
      onUnexpectedExit?.({ name, pid: child.pid, code, signal, lastLines: output.slice(-20) });
    };
    const timer = setTimeout(report, 1_000);
    child.once('close', report);
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      output.push(line);
      if (output.length > 2_000) output.shift();
      opts.echo?.(line);
      for (const fn of p.lineListeners) fn(line);
    });
  }
  return p;
}

/** Waits until a line matches `pattern`; rejects with the recent output if the child exits or time runs out. */
export function waitForLine(p: ManagedProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const found = p.output.map((l) => l.match(pattern)).find((m) => m);
    if (found) return resolve(found);
    const onLine = (line: string) => {
      const m = line.match(pattern);
      if (m) finish(() => resolve(m));
    };
    const fail = (why: string) => finish(() => reject(new Error(`${p.name}: ${why}\n${p.output.slice(-30).join('\n')}`)));
    const timer = setTimeout(() => fail(`no line matching ${pattern} within ${timeoutMs} ms`), timeoutMs);
    const onExit = (code: number | null) => fail(`exited with ${code} before printing ${pattern}`);
    // One reader per stream for the child's whole life: a second readline that is
    // closed later pauses the pipe, and a child blocked on a full stdout pipe hangs.
    p.lineListeners.add(onLine);
    p.child.once('exit', onExit);
    function finish(then: () => void) {
      clearTimeout(timer);
      p.child.off('exit', onExit);
      p.lineListeners.delete(onLine);
      then();
    }
  });
}

/** Stops a child: `signal` first, SIGKILL after `graceMs`. Resolves once it has exited. */
export async function stopProcess(p: ManagedProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
  p.stopRequested = true;
  killGroup(p, signal);
  const timer = setTimeout(() => killGroup(p, 'SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}

/**
 * Stops every tracked child, one after the other in reverse start order, so
 * dependents (Greeters deregistering, offline) go while Consul still answers.
 * Exits from then on are expected.
 */
export async function stopAll(graceMs = 5_000): Promise<void> {
  stoppingAll = true;
  for (const p of [...live].reverse()) await stopProcess(p, 'SIGTERM', graceMs);
}

/** A free TCP port on 127.0.0.1, never handed out twice (see free-port.ts for what is guaranteed across processes). */
export { freePort } from './free-port';

/** Rejects with a clear message when `port` on 127.0.0.1 is already taken. */
export function assertPortFree(port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', () => reject(new Error(`port ${port} (${what}) is already in use; pick another with the option shown in --help`)));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
  });
}
