/**
 * Finds or installs the pinned moto server (a local fake of AWS APIs, here for
 * Cloud Map) and starts it on loopback for the tests and the bench.
 *
 * moto is a Python package, so we install it once into a private venv under
 * ~/.cache (or CONSUL_GRPC_LAMBDA_CACHE) and reuse it on every later run. The
 * AWS CLI (`npm run aws`) is installed pinned into the same venv on first use.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pollWhileRunning } from '../support/poll-until';
import { installIntoCache, toolCacheDir } from '../tool-cache';
import { freePort, startProcess, stopProcess, type ManagedProcess } from './processes';

/** The pinned moto version; its server mode speaks the Cloud Map (servicediscovery) API. */
export const MOTO_VERSION = '5.2.5';

/** Directory of the cached venv for the pinned version. */
export function motoCacheDir(): string {
  return toolCacheDir('moto', MOTO_VERSION);
}

function works(bin: string): boolean {
  if (!existsSync(bin)) return false;
  const out = spawnSync(bin, ['--help'], { encoding: 'utf8', timeout: 60_000 });
  return out.status === 0 && /usage/i.test(out.stdout ?? '');
}

/** Returns the path of a working `moto_server`, creating the cached venv the first time. */
export function ensureMoto(log: (line: string) => void = () => {}): string {
  const dir = motoCacheDir();
  const bin = join(dir, 'bin', 'moto_server');
  if (works(bin)) return bin;

  log(`installing moto[server]==${MOTO_VERSION} into a venv at ${dir} (first time only)…`);
  installIntoCache(
    dir,
    (d) => works(join(d, 'bin', 'moto_server')),
    (tmp) => {
      execFileSync(process.env.PYTHON ?? 'python3', ['-m', 'venv', tmp], { stdio: ['ignore', 'inherit', 'inherit'] });
      const python = join(tmp, 'bin', 'python');
      execFileSync(python, ['-m', 'pip', 'install', '--quiet', `moto[server]==${MOTO_VERSION}`], {
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      execFileSync(python, ['-c', 'import moto.server'], { stdio: ['ignore', 'inherit', 'inherit'] });
      // pip writes the venv's absolute interpreter path into each script. Point ours at the
      // final dir now, so the venv is complete the moment the rename makes it visible.
      const script = join(tmp, 'bin', 'moto_server');
      writeFileSync(script, readFileSync(script, 'utf8').replace(/^#!.*$/m, `#!${join(dir, 'bin', 'python')}`), { mode: 0o755 });
    },
  );
  if (!works(bin)) throw new Error(`installed moto into ${dir} but ${bin} does not run`);
  log(`moto cached at ${dir}`);
  return bin;
}

/** The pinned AWS CLI (v1, a Python package: it fits the moto venv; v2 ships no pip package). */
export const AWSCLI_VERSION = '1.46.3';

function awsCliWorks(bin: string): boolean {
  if (!existsSync(bin)) return false;
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  return out.status === 0 && `${out.stdout ?? ''}${out.stderr ?? ''}`.startsWith(`aws-cli/${AWSCLI_VERSION} `);
}

/** Returns the path of the pinned `aws` in the moto venv, installing it there the first time. */
export function ensureAwsCli(log: (line: string) => void = () => {}): string {
  const bin = join(dirname(ensureMoto(log)), 'aws');
  if (awsCliWorks(bin)) return bin;
  log(`installing awscli==${AWSCLI_VERSION} into ${motoCacheDir()} (first time only)…`);
  // awscli 1.46 carries its own botocore (it requires none), so moto's stays as it was installed.
  execFileSync(join(dirname(bin), 'python'), ['-m', 'pip', 'install', '--quiet', `awscli==${AWSCLI_VERSION}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 600_000,
  });
  if (!awsCliWorks(bin)) throw new Error(`installed awscli==${AWSCLI_VERSION} but ${bin} does not report it`);
  return bin;
}

/** A running moto server on loopback. */
export interface MotoServer {
  endpoint: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Options of the moto server. */
export interface MotoOptions {
  port?: number;
  echo?: (line: string) => void;
  readyTimeoutMs?: number;
}

/** Starts moto_server on 127.0.0.1 and resolves once it answers HTTP. */
export async function startMoto(opts: MotoOptions = {}): Promise<MotoServer> {
  const bin = ensureMoto((l) => console.error(l));
  const port = opts.port ?? (await freePort());
  const proc = startProcess('moto', bin, ['-H', '127.0.0.1', '-p', String(port)], {
    echo: opts.echo,
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = () => stopProcess(proc, 'SIGTERM', 5_000);
  try {
    await waitUntilAnswering(endpoint, proc, opts.readyTimeoutMs ?? 60_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, port, process: proc, stop };
}

async function waitUntilAnswering(endpoint: string, proc: ManagedProcess, timeoutMs: number): Promise<void> {
  await pollWhileRunning(
    proc,
    async () => {
      // moto's own dashboard API: answers once the server accepts requests.
      const res = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(1_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return true;
    },
    `moto at ${endpoint} to answer`,
    { timeoutMs, intervalMs: 200 },
  );
}

if (require.main === module) {
  const bin = ensureMoto((l) => console.error(l));
  console.log(bin);
}
