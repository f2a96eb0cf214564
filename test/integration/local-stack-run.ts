/**
 * Running the local stack (`npm start`, scripts/local-stack.ts) from a test: its tools prepared, its arguments on free
 * ports, and every process it started found through /proc by a marker variable in their
 * environment, orphans too, so a test can prove none is left.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { ensureConsulBinary } from '../../scripts/consul-binary';
import { ensureMoto } from '../../scripts/stack/moto';
import { freePort } from '../../scripts/stack/processes';

/** Builds Consul and installs moto first if this machine has none (minutes the first time), so the stack's own start is quick. */
export function prepareLocalStackTools(): void {
  ensureConsulBinary((l) => console.error(l));
  ensureMoto((l) => console.error(l));
}

/** A live process as /proc tells it. */
export interface MarkedProcess {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
  argv: string[];
}

/** The process `pid` as /proc tells it, with its environment; undefined once it is gone (or not ours to read). */
export function readProcess(pid: number): (MarkedProcess & { environ: string[] }) | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces; the fields after it are fixed.
    const [state = '', ppid = '', pgid = ''] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    return { pid, ppid: Number(ppid), pgid: Number(pgid), state, argv, environ };
  } catch {
    return undefined;
  }
}

/** Live processes (zombies aside) whose environment carries `marker=value`. */
export function markedProcesses(marker: string, value: string): MarkedProcess[] {
  const entry = `${marker}=${value}`;
  const found: MarkedProcess[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProcess(Number(name));
    if (!p || p.state === 'Z' || !p.environ.includes(entry)) continue;
    found.push({ pid: p.pid, ppid: p.ppid, pgid: p.pgid, state: p.state, argv: p.argv });
  }
  return found;
}

/**
 * The last resort of a test's cleanup: SIGKILL to every process marked `marker=<one of values>` and to
 * its process group (and to `groups`), never to the test's own group.
 */
export function killMarked(marker: string, values: readonly string[], groups: readonly number[] = []): void {
  const ownGroup = readProcess(process.pid)?.pgid;
  const found = values.flatMap((value) => markedProcesses(marker, value));
  const pgids = new Set([...groups, ...found.map((p) => p.pgid)]);
  const targets = [...[...pgids].filter((g) => g > 1 && g !== ownGroup).map((g) => -g), ...found.map((p) => p.pid)];
  for (const target of targets) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** One line a process, for assertion messages. */
export const describeProcesses = (ps: readonly MarkedProcess[]): string =>
  ps.map((p) => `${p.pid} [${p.state}] ${p.argv.join(' ').slice(0, 160)}`).join('\n');

/** The local stack's ports (all free when asked) and its command-line arguments. */
export interface LocalStackArgs {
  args: string[];
  consulPort: number;
  httpPort: number;
  lambdaPort: number;
  greeterPorts: [number, number];
  echoPort: number;
}

/** Arguments for the local stack on free ports with its state in `stateDir`; `options` come first (e.g. `--tls`). */
export async function localStackArgs(stateDir: string, options: string[] = []): Promise<LocalStackArgs> {
  const [consulPort, httpPort, lambdaPort, g1, g2, echoPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const ports = [
    '--consul-port',
    consulPort,
    '--http-port',
    httpPort,
    '--lambda-port',
    lambdaPort,
    '--greeter-ports',
    `${g1},${g2}`,
    '--echo-port',
    echoPort,
  ];
  return {
    args: [...options, ...ports.map(String), '--state-dir', stateDir],
    consulPort,
    httpPort,
    lambdaPort,
    greeterPorts: [g1, g2],
    echoPort,
  };
}
