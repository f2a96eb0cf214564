/**
 * What the local stack and the test harness leave behind when they end, however they end.
 *
 * - Temp dirs that may hold a token or a private key are made by `ownedTempDir`: each names its
 *   owner (pid and start time) in a `.owner` file, is removed on every exit of this process, and
 *   is handed to a watchdog (watchdog.mjs) that removes it when this process dies without running
 *   its exit handlers (SIGKILL, OOM).
 * - Every child started through processes.ts carries OWNER_ENV, and its process group is handed
 *   to the same watchdog, which stops the groups when this process is gone: Node cannot ask the
 *   kernel to kill children with their parent (no prctl(PR_SET_PDEATHSIG)).
 * - `sweepStale` runs at each start and removes what a dead run left when even its watchdog died:
 *   dirs whose owner is gone and processes whose OWNER_ENV names a dead owner.
 * - `onTermination` turns SIGTERM, SIGHUP, SIGINT and the death of the parent into one callback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../support/process-alive';

/** Environment variable every child of ours carries: `<pid>:<start time>` of the process that owns it. */
export const OWNER_ENV = 'CONSUL_GRPC_LAMBDA_OWNER';
/** Prefix of every temp dir of ours; the kinds below are the ones that may hold secrets. */
export const TEMP_PREFIX = 'consul-grpc-lambda-';
const SWEPT_KINDS = ['consul', 'cluster', 'tls', 'coredns', 'stack'];
/** A dir of ours without `.owner` (made before owners were recorded) is swept only when this old. */
const LEGACY_MIN_AGE_MS = 30 * 60_000;

/** The start time of `pid` in clock ticks since boot (Linux), or '' where /proc is missing. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return process.platform === 'linux' ? undefined : '';
  }
}

/** This process as an owner tag: pid plus start time, so a reused pid is not mistaken for it. */
export function ownerTag(pid = process.pid): string {
  return `${pid}:${startTime(pid) ?? ''}`;
}

/** Whether the process named by an owner tag still runs (same pid and start time). */
export function ownerAlive(tag: string): boolean {
  const [pidText = '', start = ''] = tag.trim().split(':');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (!processAlive(pid)) return false;
  const now = startTime(pid);
  return now === undefined ? false : start === '' || now === '' || now === start;
}

const ownedPaths = new Set<string>();
let watchdog: ChildProcess | undefined;

/** Tells the watchdog one line, starting it first if needed. */
function tellWatchdog(line: string): void {
  if (!watchdog) {
    // Its own process group: a Ctrl-C to ours must not stop it before it has done its work.
    watchdog = spawn(process.execPath, [join(__dirname, 'watchdog.mjs')], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    watchdog.unref();
    // The pipe must not keep this process alive; its end (our exit, whatever the cause) is the signal.
    (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    watchdog.stdin?.on('error', () => undefined);
  }
  watchdog.stdin?.write(`${line}\n`);
}

/** Hands a child's process group to the watchdog; `release` when it has exited. */
export function guardGroup(pgid: number): { release(): void } {
  tellWatchdog(`G ${pgid}`);
  return { release: () => tellWatchdog(`g ${pgid}`) };
}

/** Removes `path` (file or dir) on every exit of this process and, through the watchdog, after a SIGKILL too. */
export function ownPath(path: string): void {
  ownedPaths.add(path);
  tellWatchdog(`P ${path}`);
}

/** Removes an owned path now. */
export function removeOwned(path: string): void {
  rmSync(path, { recursive: true, force: true });
  if (ownedPaths.delete(path)) tellWatchdog(`p ${path}`);
}

/** A private temp dir `consul-grpc-lambda-<kind>-XXXXXX` that names its owner and is removed on any exit. */
export function ownedTempDir(kind: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${TEMP_PREFIX}${kind}-`));
  writeFileSync(join(dir, '.owner'), `${ownerTag()}\n`, { mode: 0o600 });
  ownPath(dir);
  return dir;
}

process.on('exit', () => {
  for (const p of ownedPaths) rmSync(p, { recursive: true, force: true });
});

/** What a sweep removed. */
export interface SweepResult {
  dirs: string[];
  pids: number[];
}

/**
 * Removes what dead runs left: our temp dirs whose owner is gone (or, without an owner file, that
 * are older than 30 min and named by no running process), and processes whose OWNER_ENV names a
 * dead owner (SIGKILL, with their process group when they lead one).
 */
export function sweepStale(root = tmpdir()): SweepResult {
  const result: SweepResult = { dirs: [], pids: [] };
  const procs = listOurProcesses();
  for (const p of procs) {
    if (ownerAlive(p.owner)) continue;
    for (const target of p.pgid === p.pid ? [-p.pid, p.pid] : [p.pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    result.pids.push(p.pid);
  }
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return result;
  }
  let argvs: string | undefined;
  for (const name of entries) {
    if (!SWEPT_KINDS.some((k) => name.startsWith(`${TEMP_PREFIX}${k}-`))) continue;
    const dir = join(root, name);
    let owner: string | undefined;
    try {
      owner = readFileSync(join(dir, '.owner'), 'utf8');
    } catch {
      owner = undefined;
    }
    try {
      if (
        owner !== undefined
          ? ownerAlive(owner)
          : Date.now() - statSync(dir).mtimeMs < LEGACY_MIN_AGE_MS || (argvs ??= allArgv()).includes(dir)
      )
        continue;
      rmSync(dir, { recursive: true, force: true });
      result.dirs.push(dir);
    } catch {
      // removed meanwhile, or not ours
    }
  }
  return result;
}

/** Processes of this user that carry OWNER_ENV (Linux /proc; elsewhere none). */
function listOurProcesses(): { pid: number; pgid: number; owner: string; argv: string }[] {
  const found: { pid: number; pgid: number; owner: string; argv: string }[] = [];
  for (const pid of pids()) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const owner = env.find((e) => e.startsWith(`${OWNER_ENV}=`))?.slice(OWNER_ENV.length + 1);
      if (!owner || pid === process.pid) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      found.push({ pid, pgid: Number(fields[2]), owner, argv: readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ') });
    } catch {
      // gone, or another user's
    }
  }
  return found;
}

function pids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .map(Number);
  } catch {
    return [];
  }
}

function allArgv(): string {
  return pids()
    .map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      } catch {
        return '';
      }
    })
    .join('\n');
}

/**
 * Calls `handler` once with the reason when this process gets SIGTERM, SIGHUP or SIGINT, or its
 * parent dies (polled: a changed `process.ppid` means we were re-parented). `kill <npm pid>`
 * ends npm without passing the signal on, so the parent's death is what tells the stack.
 */
export function onTermination(handler: (reason: string) => void, pollMs = 500): () => void {
  const parent = process.ppid;
  let done = false;
  const fire = (reason: string) => {
    if (done) return;
    done = true;
    handler(reason);
  };
  const signals = ['SIGTERM', 'SIGHUP', 'SIGINT'] as const;
  const listeners = signals.map((s) => [s, () => fire(s)] as const);
  for (const [s, fn] of listeners) process.on(s, fn);
  const timer = setInterval(() => {
    if (process.ppid !== parent) fire(`parent ${parent} exited`);
  }, pollMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    for (const [s, fn] of listeners) process.off(s, fn);
  };
}
