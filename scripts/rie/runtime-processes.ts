/**
 * The runtime processes of an emulator, as /proc shows them (Linux): the emulator starts the
 * runtime in a process group of its own, so whoever stops the emulator must find and kill it.
 * Every runtime seen is remembered and killed when this process exits, whatever happened.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Pids of the direct children of `pid` (Linux /proc; empty elsewhere). */
export function childPids(pid: number): number[] {
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

/** Peak RSS (VmHWM) of `pid` in MB, from /proc; undefined once it is gone. */
export function peakRssMb(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Math.round((Number(m[1]) / 1024) * 10) / 10 : undefined;
  } catch {
    return undefined;
  }
}

/** True while `pid` is still a runtime started from `ricDir` (guards against a reused pid). */
export function isRuntime(pid: number, ricDir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(ricDir, 'index.mjs'));
  } catch {
    return false;
  }
}

// Runtime process groups still alive when this process exits are killed (they are not the emulator's group).
const liveRuntimes = new Set<number>();

/** Remembers `pid` as a runtime to kill when this process exits. */
export function trackRuntime(pid: number): void {
  liveRuntimes.add(pid);
}
process.on('exit', () => {
  for (const pid of liveRuntimes) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** SIGKILL to the process groups of `pids` (runtimes run in their own group), ignoring those gone. */
export function killGroups(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
    liveRuntimes.delete(pid);
  }
}
