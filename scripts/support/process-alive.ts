/** Whether a process id names a live process: the one signal-0 probe the stack, its sweeps and the tests use. */

/** True while `pid` runs (also when it is another user's, which signal 0 answers with EPERM); a zombie counts as running. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
