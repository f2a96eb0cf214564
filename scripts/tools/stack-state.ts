/**
 * What a running `npm start` tells the tools beside it (the consul, aws and grpcurl wrappers,
 * invoke:rie): where its Consul, moto and HTTP API listen and which CA and client certificate
 * reach them. The stack writes it to `<state dir>/stack.env` (no secret in it: paths and
 * addresses only) and removes it when it stops; tokens stay in their own private files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Name of the file in the state dir. */
export const STACK_STATE_FILE = 'stack.env';

/** The repo's default state dir, as `npm start` uses it. */
export const DEFAULT_STATE_DIR = resolve(__dirname, '..', '..', '.local-stack');

/** What the stack writes: variables named as the tools read them. */
export interface StackState {
  /** Consul's address as the CLI takes it (https://… with --tls). */
  CONSUL_HTTP_ADDR: string;
  CONSUL_CACERT?: string;
  CONSUL_CLIENT_CERT?: string;
  CONSUL_CLIENT_KEY?: string;
  /** The CA that signed the Greeters' certificates (--tls). */
  GREETER_CACERT?: string;
  /** The moto server that stands in for AWS (Cloud Map). */
  MOTO_ENDPOINT: string;
  AWS_REGION: string;
  /** The serverless-offline HTTP API. */
  HTTP_API: string;
}

/** The state dir the tools look in: LOCAL_STACK_DIR, or .local-stack/ in the repo. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.LOCAL_STACK_DIR?.trim() || DEFAULT_STATE_DIR);
}

/** KEY=value lines as variables (blank lines and other lines skipped). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m?.[1]) out[m[1]] = m[2] ?? '';
  }
  return out;
}

/** Variables as KEY=value lines; undefined values are left out. */
export function formatEnvFile(vars: Record<string, string | undefined>): string {
  return Object.entries(vars)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${v}\n`)
    .join('');
}

/** The running stack's state in `dir`, or undefined when no stack wrote one there. */
export function readStackState(dir = stateDir()): StackState | undefined {
  const file = join(dir, STACK_STATE_FILE);
  if (!existsSync(file)) return undefined;
  const vars = parseEnvFile(readFileSync(file, 'utf8'));
  if (!vars.CONSUL_HTTP_ADDR || !vars.MOTO_ENDPOINT || !vars.HTTP_API) throw new Error(`${file} is incomplete; restart npm start`);
  return vars as unknown as StackState;
}
