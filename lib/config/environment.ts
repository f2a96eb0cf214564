/** The only settings that come from the environment: where Consul is, the token (or its SSM name), TLS to Consul, the K/V prefix. */
import { readFileSync } from 'node:fs';
import * as z from 'zod';
import type { ConsulTls } from '../consul/consul-api';
import { ConfigError } from './errors';
import type { SecretResolver } from './secrets';

/** Connection settings for a function, read from its environment. */
export interface FunctionEnvironment {
  consulAddress: string;
  /** ACL token given directly (local); never logged, redacted in /status. */
  consulToken?: string;
  /** SSM parameter holding the token (deployed): CONSUL_HTTP_TOKEN_PARAMETER. */
  consulTokenParameter?: string;
  /** TLS to an https Consul address; absent when no TLS setting is given. */
  consulTls?: ConsulTlsSources;
  configPrefix: string;
}

/**
 * Where the TLS material comes from, with the names Consul's CLI uses: a PEM file path
 * (local), else `<NAME>_PARAMETER`, an SSM parameter holding the PEM (deployed).
 */
export interface ConsulTlsSources {
  /** CONSUL_CACERT: the CA bundle the agent's certificate must chain to. */
  caCertFile?: string;
  /** CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY: our certificate, for an agent with verify_incoming. */
  clientCertFile?: string;
  clientKeyFile?: string;
  /** CONSUL_TLS_SERVER_NAME: the name the agent's certificate must carry, if not the address's host. */
  serverName?: string;
}

/** The TLS variables and the SecretResolver name each one's PEM is resolved under. */
const TLS_FILES = [
  { name: 'CONSUL_CACERT', field: 'caCertFile', pem: 'certificate' },
  { name: 'CONSUL_CLIENT_CERT', field: 'clientCertFile', pem: 'certificate' },
  { name: 'CONSUL_CLIENT_KEY', field: 'clientKeyFile', pem: 'private key' },
] as const;

const optionalText = z.string().trim().optional();

const envSchema = z.object({
  CONSUL_HTTP_ADDR: z.string().trim().min(1).default('127.0.0.1:8500'),
  CONSUL_HTTP_TOKEN: optionalText,
  CONSUL_HTTP_TOKEN_PARAMETER: optionalText,
  CONSUL_CACERT: optionalText,
  CONSUL_CACERT_PARAMETER: optionalText,
  CONSUL_CLIENT_CERT: optionalText,
  CONSUL_CLIENT_CERT_PARAMETER: optionalText,
  CONSUL_CLIENT_KEY: optionalText,
  CONSUL_CLIENT_KEY_PARAMETER: optionalText,
  CONSUL_TLS_SERVER_NAME: optionalText,
  CONFIG_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_./-]+\/$/, 'must be a K/V path ending in "/"')
    .default('config/greeter-gateway/local/'),
});

/** Reads and validates the environment; throws with the variable name on a bad value. */
export function readFunctionEnvironment(env: NodeJS.ProcessEnv = process.env): FunctionEnvironment {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError('invalid_environment', `invalid environment variable ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'invalid'}`);
  }
  const e = parsed.data;
  checkClientPair(Boolean(e.CONSUL_CLIENT_CERT || e.CONSUL_CLIENT_CERT_PARAMETER), Boolean(e.CONSUL_CLIENT_KEY || e.CONSUL_CLIENT_KEY_PARAMETER));
  const tls: ConsulTlsSources = {
    ...(e.CONSUL_CACERT ? { caCertFile: e.CONSUL_CACERT } : {}),
    ...(e.CONSUL_CLIENT_CERT ? { clientCertFile: e.CONSUL_CLIENT_CERT } : {}),
    ...(e.CONSUL_CLIENT_KEY ? { clientKeyFile: e.CONSUL_CLIENT_KEY } : {}),
    ...(e.CONSUL_TLS_SERVER_NAME ? { serverName: e.CONSUL_TLS_SERVER_NAME } : {}),
  };
  return {
    consulAddress: e.CONSUL_HTTP_ADDR,
    consulToken: e.CONSUL_HTTP_TOKEN || undefined,
    consulTokenParameter: e.CONSUL_HTTP_TOKEN_PARAMETER || undefined,
    ...(Object.keys(tls).length ? { consulTls: tls } : {}),
    configPrefix: e.CONFIG_PREFIX,
  };
}

/**
 * The TLS material for an https Consul address, each PEM from its file or else from its SSM
 * parameter (through `secrets`, so once per environment and bounded); undefined when nothing is set.
 * Throws ConfigError naming the variable for an unreadable file or a value that is not PEM.
 */
export async function resolveConsulTls(tls: ConsulTlsSources | undefined, secrets: SecretResolver): Promise<ConsulTls | undefined> {
  const pems = await Promise.all(
    TLS_FILES.map(async ({ name, field, pem }) => {
      const file = tls?.[field];
      if (file) return checkPem(name, readPemFile(name, file), pem, `file ${file}`);
      // No file: `resolve` reads the SSM parameter named by <NAME>_PARAMETER, if any.
      const fromSsm = await secrets.resolve(name);
      return fromSsm === undefined ? undefined : checkPem(name, fromSsm, pem, `SSM parameter ${name}_PARAMETER`);
    }),
  );
  const [ca, cert, key] = pems;
  checkClientPair(cert !== undefined, key !== undefined);
  const out: ConsulTls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(tls?.serverName ? { serverName: tls.serverName } : {}) };
  return Object.keys(out).length ? out : undefined;
}

/**
 * The TLS material from the files named by CONSUL_CACERT, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY
 * and CONSUL_TLS_SERVER_NAME, read at once: for processes that have no SSM (the Greeter backend).
 */
export function readConsulTlsFiles(env: NodeJS.ProcessEnv = process.env): ConsulTls | undefined {
  const value = (name: string) => env[name]?.trim() || undefined;
  checkClientPair(value('CONSUL_CLIENT_CERT') !== undefined, value('CONSUL_CLIENT_KEY') !== undefined);
  const out: ConsulTls = {};
  for (const { name, pem } of TLS_FILES) {
    const file = value(name);
    if (!file) continue;
    const text = checkPem(name, readPemFile(name, file), pem, `file ${file}`);
    if (name === 'CONSUL_CACERT') out.ca = text;
    else if (name === 'CONSUL_CLIENT_CERT') out.cert = text;
    else out.key = text;
  }
  const serverName = value('CONSUL_TLS_SERVER_NAME');
  if (serverName) out.serverName = serverName;
  return Object.keys(out).length ? out : undefined;
}

function checkClientPair(cert: boolean, key: boolean): void {
  if (cert !== key) throw new ConfigError('invalid_environment', `CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY go together (file or _PARAMETER): ${cert ? 'the key' : 'the certificate'} is missing`);
}

function readPemFile(name: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('invalid_environment', `${name}: cannot read ${file}: ${err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err)}`);
  }
}

/** The text if it holds a PEM block of the kind expected; the error names the variable and where the value came from, never the value. */
function checkPem(name: string, text: string, kind: 'certificate' | 'private key', from: string): string {
  const ok = kind === 'certificate' ? /-----BEGIN CERTIFICATE-----/.test(text) : /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text);
  if (!ok) throw new ConfigError(from.startsWith('SSM') ? 'invalid_secret' : 'invalid_environment', `${name} (${from}) holds no PEM ${kind}`);
  return text;
}
