/**
 * How the tool wrappers (npm run consul / aws / grpcurl) run their binary: with the caller's
 * arguments, in the directory the user typed `npm run` in (npm itself runs scripts in the repo
 * root, so relative paths would otherwise resolve there), stdio passed through, and its exit
 * code (or signal) as ours.
 */
import { spawn } from 'node:child_process';

/** Runs `bin args` with `env` and exits this process the way it ended. */
export function runTool(bin: string, args: string[], env: NodeJS.ProcessEnv): void {
  const child = spawn(bin, args, { stdio: 'inherit', env, cwd: process.env.INIT_CWD || process.cwd() });
  // Ctrl-C reaches the tool through the terminal's process group; we only wait for it to end.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  child.on('error', (err) => {
    console.error(`error: could not run ${bin}: ${err.message}`);
    process.exit(127);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + signalNumber(signal) : 1)));
}

function signalNumber(signal: NodeJS.Signals): number {
  return { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal as string] ?? 1;
}

/** Prints `message` as an error and exits 2 (bad usage or no stack), before any tool runs. */
export function fail(message: string): never {
  console.error(`error: ${message}`);
  process.exit(2);
}
