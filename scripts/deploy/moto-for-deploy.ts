/**
 * moto as the AWS account of a `serverless deploy` rehearsal: the pinned moto from the project's cached
 * venv, started through moto_server_for_deploy.py (see there for its two patches), plus the
 * environment that points the Serverless CLI and SDK clients at it.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensureMoto } from '../stack/moto';
import { freePort, startProcess, stopProcess } from '../stack/processes';
import { pollUntil } from '../support/poll-until';

const LAUNCHER = join(__dirname, 'moto_server_for_deploy.py');

/** The cached venv's Python (the one that has moto and cfn-lint). */
export function motoPython(log: (line: string) => void = (l) => console.error(l)): string {
  return join(dirname(ensureMoto(log)), 'python');
}

/** A moto server that accepts the framework's templates. */
export interface DeployMoto {
  endpoint: string;
  pid: number | undefined;
  /** Its recent output lines (empty for a detached server: see `logFile`). */
  output: string[];
  logFile?: string;
  stop(): Promise<void>;
}

/** Options: a fixed port, or a detached server that outlives this process and logs to `logFile`. */
export interface DeployMotoOptions {
  port?: number;
  detachedLogFile?: string;
  readyTimeoutMs?: number;
}

/** Starts moto for deploys on 127.0.0.1 and resolves once it answers. */
export async function startDeployMoto(o: DeployMotoOptions = {}): Promise<DeployMoto> {
  const python = motoPython();
  const port = o.port ?? (await freePort());
  const args = [LAUNCHER, '-H', '127.0.0.1', '-p', String(port)];
  const env = { ...process.env, PYTHONUNBUFFERED: '1' };
  const endpoint = `http://127.0.0.1:${port}`;
  let server: DeployMoto & { exited: () => boolean };
  if (o.detachedLogFile) {
    // Not a tracked child: processes.ts kills those when this process exits.
    const fd = openSync(o.detachedLogFile, 'a');
    const child = spawn(python, args, { env, detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child.unref();
    server = {
      endpoint,
      pid: child.pid,
      output: [],
      logFile: o.detachedLogFile,
      exited: () => child.exitCode !== null || child.signalCode !== null,
      stop: async () => {
        if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
      },
    };
  } else {
    const proc = startProcess('moto (deploy)', python, args, { env });
    server = {
      endpoint,
      pid: proc.child.pid,
      output: proc.output,
      exited: () => proc.child.exitCode !== null || proc.child.signalCode !== null,
      stop: () => stopProcess(proc, 'SIGTERM', 5_000),
    };
  }
  // A detached moto is no tracked child (no exit event to wait on): each probe looks whether it is gone.
  const gone = new AbortController();
  try {
    await pollUntil(
      async () => {
        if (server.exited()) gone.abort(new Error('it exited'));
        const res = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(1_000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        return server;
      },
      `moto at ${endpoint}`,
      { timeoutMs: o.readyTimeoutMs ?? 60_000, intervalMs: 200, signal: gone.signal },
    );
    return server;
  } catch (err) {
    await server.stop();
    const where = server.logFile ? `see ${server.logFile}` : server.output.slice(-20).join('\n');
    throw new Error(`moto at ${endpoint} did not come up (${err instanceof Error ? err.message : String(err)}); ${where}`, { cause: err });
  }
}

/** Fake credentials and the endpoint: every SDK v3 client (the CLI's and ours) then talks to moto. */
export function motoAwsEnv(endpoint: string, region: string): Record<string, string | undefined> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SESSION_TOKEN: 'testing',
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    // No profile or SSO from the developer's ~/.aws may leak into the rehearsal (spawn drops undefined).
    AWS_PROFILE: undefined,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
}
