/** Where the project caches the tools it builds from source (Consul, grpcurl), one folder per pinned version. */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Cache folder for `tool` at `version`, under $CONSUL_GRPC_LAMBDA_CACHE or ~/.cache/consul-grpc-lambda. */
export function toolCacheDir(tool: string, version: string): string {
  const base = process.env.CONSUL_GRPC_LAMBDA_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'consul-grpc-lambda');
  return join(base, `${tool}-${version}`);
}
