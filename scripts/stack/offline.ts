/** Runs the real Serverless CLI with serverless-offline (HTTP on loopback) for the local stack and tests. */
import { join } from 'node:path';
import { freePort, startProcess, waitForLine, type ManagedProcess } from './processes';

const ROOT = join(__dirname, '..', '..');

/** A running `serverless offline start`. */
export interface OfflineServer {
  baseUrl: string;
  process: ManagedProcess;
}

/** Options: ports, the Consul the functions use and their tokens (environment only). */
export interface OfflineOptions {
  /** Default: a free port. */
  httpPort?: number;
  /** Default: a free port. */
  lambdaPort?: number;
  consulAddress: string;
  gatewayToken: string;
  /** Registry secrets; without them the `instances` function answers 500 and says why in its log. */
  registry?: { consulToken: string; signingKey: string; apiKey: string };
  /** Token of the scheduled health-sync job (serverless-offline runs its schedule). */
  healthSyncToken?: string;
  /** Token of the rpc function (tokens.ts rpcToken). */
  rpcToken?: string;
  extraEnv?: Record<string, string>;
  echo?: (line: string) => void;
  readyTimeoutMs?: number;
}

/** Starts serverless-offline and resolves when it listens. */
export async function startOffline(o: OfflineOptions): Promise<OfflineServer> {
  const httpPort = o.httpPort ?? (await freePort());
  const lambdaPort = o.lambdaPort ?? (await freePort());
  const proc = startProcess(
    'serverless offline',
    process.execPath,
    [join(ROOT, 'node_modules', 'serverless', 'bin', 'serverless.js'), 'offline', 'start', '--stage', 'local'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        ...o.extraEnv,
        CONSUL_HTTP_ADDR: o.consulAddress,
        GREETER_GATEWAY_CONSUL_TOKEN: o.gatewayToken,
        ...(o.healthSyncToken ? { HEALTH_SYNC_CONSUL_TOKEN: o.healthSyncToken } : {}),
        ...(o.rpcToken ? { RPC_GATEWAY_CONSUL_TOKEN: o.rpcToken } : {}),
        ...(o.registry
          ? {
              INSTANCE_REGISTRY_CONSUL_TOKEN: o.registry.consulToken,
              REGISTRY_SIGNING_KEY: o.registry.signingKey,
              REGISTRY_API_KEY: o.registry.apiKey,
            }
          : {}),
        HTTP_PORT: String(httpPort),
        OFFLINE_LAMBDA_PORT: String(lambdaPort),
        SLS_TELEMETRY_DISABLED: '1',
        SLS_NOTIFICATIONS_MODE: 'off',
      },
      echo: o.echo,
    },
  );
  await waitForLine(proc, /Server ready:/, o.readyTimeoutMs ?? 120_000);
  return { baseUrl: `http://127.0.0.1:${httpPort}`, process: proc };
}
