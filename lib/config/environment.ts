/**
 * The only settings that come from the environment: where Consul is, the token (or its SSM name), TLS to
 * Consul, the K/V prefix, and how a gateway discovers (its source and fallbacks): these decide how Consul
 * and its K/V are reached, so they must hold when Consul cannot answer.
 */
import { readFileSync } from 'node:fs';
import * as z from 'zod/mini';
import { consulAddressUrl, parseConsulAddresses } from '../consul/consul-address';
import type { ConsulTls } from '../consul/consul-api';
import { ConsulAddressError } from '../consul/errors';
import { ConfigError } from './errors';
import type { SecretResolver } from './secrets';

/** Connection settings for a function, read from its environment. */
export interface FunctionEnvironment {
  /** CONSUL_HTTP_ADDR; with any TLS setting present, every entry written out as https:// (a bare host:port means https). */
  consulAddress: string;
  /** ACL token given directly (local); never logged, redacted in /status. */
  consulToken?: string;
  /** SSM parameter holding the token (deployed): CONSUL_HTTP_TOKEN_PARAMETER. */
  consulTokenParameter?: string;
  /** TLS to an https Consul address; absent when no TLS setting is given. `serverName` is set whenever a CA is. */
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
  /** CONSUL_TLS_SERVER_NAME, else DEFAULT_CONSUL_TLS_SERVER_NAME when a CA is given: the name the agent's certificate must carry instead of the address's host. */
  serverName?: string;
}

/**
 * The name a function expects in the Consul agent's certificate when a CA (CONSUL_CACERT or its
 * _PARAMETER) is given and CONSUL_TLS_SERVER_NAME is not:
 * what `consul tls cert create -server` writes for Consul's default datacenter and domain. Only
 * servers' certificates carry `server.<dc>.<domain>`: the CLI's client certificates name
 * `client.<dc>.<domain>`, localhost and 127.0.0.1, so holding one (or ours, which names nothing) is
 * not enough to pass for the agent, whatever address the function dials. Another datacenter or domain
 * sets CONSUL_TLS_SERVER_NAME=server.<dc>.<domain>; a mismatch fails closed.
 */
export const DEFAULT_CONSUL_TLS_SERVER_NAME = 'server.dc1.consul';

/** The TLS variables and the SecretResolver name each one's PEM is resolved under. */
const TLS_FILES = [
  { name: 'CONSUL_CACERT', field: 'caCertFile', pem: 'certificate' },
  { name: 'CONSUL_CLIENT_CERT', field: 'clientCertFile', pem: 'certificate' },
  { name: 'CONSUL_CLIENT_KEY', field: 'clientKeyFile', pem: 'private key' },
] as const;

const trimmed = () => z.string().check(z.trim());
const optionalText = z.optional(trimmed());
/** zod/mini has no preprocess: a transform piped into the schema is what classic zod's preprocess is. */
const preprocess = <T extends z.core.$ZodType>(fn: (v: unknown) => unknown, schema: T) =>
  z.pipe<z.ZodMiniTransform<unknown, unknown>, T>(z.transform(fn), schema);

const envSchema = z.object({
  CONSUL_HTTP_ADDR: z._default(trimmed().check(z.minLength(1, 'must not be empty')), '127.0.0.1:8500'),
  CONSUL_HTTP_TOKEN: optionalText,
  CONSUL_HTTP_TOKEN_PARAMETER: optionalText,
  CONSUL_CACERT: optionalText,
  CONSUL_CACERT_PARAMETER: optionalText,
  CONSUL_CLIENT_CERT: optionalText,
  CONSUL_CLIENT_CERT_PARAMETER: optionalText,
  CONSUL_CLIENT_KEY: optionalText,
  CONSUL_CLIENT_KEY_PARAMETER: optionalText,
  CONSUL_TLS_SERVER_NAME: optionalText,
  CONSUL_HTTP_SSL: preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' ? v.trim().toLowerCase() : undefined),
    z.optional(z.enum(['true', '1', 'false', '0'], "must be 'true' or 'false'")),
  ),
  CONFIG_PREFIX: z._default(
    trimmed().check(z.regex(/^[A-Za-z0-9_./-]+\/$/, 'must be a K/V path ending in "/"')),
    'config/greeter-gateway/local/',
  ),
});

/** Reads and validates the environment; throws with the variable name on a bad value. */
export function readFunctionEnvironment(env: NodeJS.ProcessEnv = process.env): FunctionEnvironment {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(
      'invalid_environment',
      `invalid environment variable ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const e = parsed.data;
  checkClientPair(
    Boolean(e.CONSUL_CLIENT_CERT || e.CONSUL_CLIENT_CERT_PARAMETER),
    Boolean(e.CONSUL_CLIENT_KEY || e.CONSUL_CLIENT_KEY_PARAMETER),
  );
  const tlsSettings = TLS_SETTINGS.filter((name) => e[name]);
  const sslFlag = e.CONSUL_HTTP_SSL === undefined ? undefined : e.CONSUL_HTTP_SSL === 'true' || e.CONSUL_HTTP_SSL === '1';
  if (sslFlag === false && tlsSettings.length)
    throw new ConfigError(
      'invalid_environment',
      `invalid environment variable CONSUL_HTTP_SSL: false contradicts ${tlsSettings.join(', ')}`,
    );
  // Fail closed: once TLS is configured in any way, nothing is sent in clear.
  const tlsOn = tlsSettings.length > 0 || sslFlag === true;
  const tls: ConsulTlsSources = {
    ...(e.CONSUL_CACERT ? { caCertFile: e.CONSUL_CACERT } : {}),
    ...(e.CONSUL_CLIENT_CERT ? { clientCertFile: e.CONSUL_CLIENT_CERT } : {}),
    ...(e.CONSUL_CLIENT_KEY ? { clientKeyFile: e.CONSUL_CLIENT_KEY } : {}),
    // The default name is Consul's CA tooling's, so it applies when the agent is checked against a CA
    // we are given; against Node's public roots (CONSUL_HTTP_SSL=true, no CA) the address's host is.
    ...(e.CONSUL_TLS_SERVER_NAME || e.CONSUL_CACERT || e.CONSUL_CACERT_PARAMETER
      ? { serverName: e.CONSUL_TLS_SERVER_NAME || DEFAULT_CONSUL_TLS_SERVER_NAME }
      : {}),
  };
  return {
    consulAddress: consulAddressFor(e.CONSUL_HTTP_ADDR, tlsOn, tlsSettings),
    consulToken: e.CONSUL_HTTP_TOKEN || undefined,
    consulTokenParameter: e.CONSUL_HTTP_TOKEN_PARAMETER || undefined,
    ...(tlsOn ? { consulTls: tls } : {}),
    configPrefix: e.CONFIG_PREFIX,
  };
}

/**
 * True when `env` configures TLS to Consul in any way (a TLS variable or its _PARAMETER, or
 * CONSUL_HTTP_SSL=true): for processes that read CONSUL_HTTP_ADDR themselves (the Greeter backend),
 * so a bare address means https and http:// is refused there too.
 */
export function consulTlsConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return TLS_SETTINGS.some((name) => env[name]?.trim()) || /^(true|1)$/i.test(env.CONSUL_HTTP_SSL?.trim() ?? '');
}

/** The variables that turn TLS to Consul on (CONSUL_HTTP_SSL=true does too). */
const TLS_SETTINGS = [
  'CONSUL_CACERT',
  'CONSUL_CACERT_PARAMETER',
  'CONSUL_CLIENT_CERT',
  'CONSUL_CLIENT_CERT_PARAMETER',
  'CONSUL_CLIENT_KEY',
  'CONSUL_CLIENT_KEY_PARAMETER',
  'CONSUL_TLS_SERVER_NAME',
] as const;

/**
 * CONSUL_HTTP_ADDR checked now, at cold start, so a bad one is a ConfigError naming the variable (500
 * MISCONFIGURED) before any token is resolved or sent. With TLS on, a bare entry is written out as https.
 */
function consulAddressFor(raw: string, tlsOn: boolean, tlsSettings: readonly string[]): string {
  try {
    const addresses = parseConsulAddresses(raw, { tls: tlsOn });
    return tlsOn ? addresses.map(consulAddressUrl).join(',') : raw;
  } catch (err) {
    if (!(err instanceof ConsulAddressError)) throw err;
    const why = tlsOn ? ` (TLS is on: ${tlsSettings.length ? tlsSettings.join(', ') : 'CONSUL_HTTP_SSL=true'})` : '';
    throw new ConfigError('invalid_environment', `invalid environment variable CONSUL_HTTP_ADDR: ${err.message}${why}`);
  }
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
  const out: ConsulTls = {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(tls?.serverName ? { serverName: tls.serverName } : {}),
  };
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
  if (cert !== key)
    throw new ConfigError(
      'invalid_environment',
      `CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY go together (file or _PARAMETER): ${cert ? 'the key' : 'the certificate'} is missing`,
    );
}

function readPemFile(name: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      'invalid_environment',
      `${name}: cannot read ${file}: ${err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err)}`,
    );
  }
}

/** The text if it holds a PEM block of the kind expected; the error names the variable and where the value came from, never the value. */
function checkPem(name: string, text: string, kind: 'certificate' | 'private key', from: string): string {
  const ok = kind === 'certificate' ? /-----BEGIN CERTIFICATE-----/.test(text) : /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text);
  if (!ok)
    throw new ConfigError(from.startsWith('SSM') ? 'invalid_secret' : 'invalid_environment', `${name} (${from}) holds no PEM ${kind}`);
  return text;
}

/** Where a function runs, as the Lambda runtime tells it (each field undefined when unset or blank, e.g. outside Lambda). */
export interface LambdaEnvironment {
  /** AWS_REGION: the function's own region. */
  region?: string;
  /** AWS_LAMBDA_LOG_STREAM_NAME: names this execution environment (unique among the function's). */
  logStream?: string;
}

/** Reads AWS_REGION and AWS_LAMBDA_LOG_STREAM_NAME; never throws (Lambda sets both, and a local run may set neither). */
export function readLambdaEnvironment(env: NodeJS.ProcessEnv = process.env): LambdaEnvironment {
  const region = env.AWS_REGION?.trim();
  const logStream = env.AWS_LAMBDA_LOG_STREAM_NAME?.trim();
  return { ...(region ? { region } : {}), ...(logStream ? { logStream } : {}) };
}

/** The discovery sources, as the environment names them. */
const SOURCES = ['consul', 'dns', 'cloudmap'] as const;
/** A discovery source a gateway can use. */
export type DiscoverySourceSetting = (typeof SOURCES)[number];

/** How a gateway discovers its backends: DISCOVERY_SOURCE, DISCOVERY_FALLBACK and what the sources named need. */
export interface DiscoveryEnvironment {
  /** DISCOVERY_SOURCE (default consul). */
  source: DiscoverySourceSetting;
  /** DISCOVERY_FALLBACK: sources tried in order while the primary gives no answer (default none). */
  fallbacks: DiscoverySourceSetting[];
  /** CONSUL_DNS_ADDR: the resolvers (ip:port) in front of Consul's DNS interface; set when dns is used. */
  dnsServers: string[];
  /** CLOUDMAP_NAMESPACE and friends; set when cloudmap is used. */
  cloudMap?: { namespace: string; region: string; endpoint?: string; pollSeconds?: number; datacenter?: string };
}

// '' means unset: serverless.yml passes every param, and an unused one as ''.
const blankAsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const sourceName = z.enum(SOURCES, "must be 'consul', 'dns' or 'cloudmap'");
const ipPort = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;
const commaList = (v: unknown) =>
  typeof v === 'string'
    ? v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
    : v;

const optionalMatch = (pattern: RegExp, message: string) =>
  preprocess(blankAsUnset, z.optional(trimmed().check(z.regex(pattern, message))));

const discoverySchema = z.object({
  DISCOVERY_SOURCE: preprocess(blankAsUnset, z._default(z.pipe(trimmed(), sourceName), 'consul')),
  DISCOVERY_FALLBACK: preprocess(
    blankAsUnset,
    z._default(preprocess(commaList, z.array(sourceName).check(z.maxLength(2, 'must list at most 2 sources'))), []),
  ),
  CONSUL_DNS_ADDR: preprocess(
    blankAsUnset,
    z.optional(
      preprocess(
        commaList,
        z
          .array(z.string().check(z.regex(ipPort, 'each entry must be ip:port (IPv6 as [ip]:port)')))
          .check(z.minLength(1, 'must list at least one ip:port')),
      ),
    ),
  ),
  CLOUDMAP_NAMESPACE: optionalMatch(/^[!-~]{1,1024}$/, 'must be a Cloud Map namespace name'),
  CLOUDMAP_REGION: optionalMatch(/^[a-z0-9-]{1,32}$/, 'must be an AWS region'),
  CLOUDMAP_ENDPOINT: optionalMatch(/^https?:\/\/[A-Za-z0-9.:[\]-]+\/?$/, 'must be an http(s) URL'),
  // The datacenter whose health-sync writes the mirror: a query naming it (greeterDatacenter) is served.
  CLOUDMAP_DATACENTER: optionalMatch(/^[A-Za-z0-9_-]{1,64}$/, 'must be a Consul datacenter name'),
  CLOUDMAP_POLL_SECONDS: preprocess(
    blankAsUnset,
    z.optional(
      z.coerce
        .number('must be a number of seconds')
        .check(z.int('must be a whole number of seconds'), z.gte(1, 'must be at least 1'), z.lte(300, 'must be at most 300')),
    ),
  ),
});

/** Reads and validates a gateway's discovery settings; throws ConfigError naming the variable on a bad or missing value. */
export function readDiscoveryEnvironment(env: NodeJS.ProcessEnv = process.env): DiscoveryEnvironment {
  const parsed = discoverySchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(
      'invalid_environment',
      `invalid environment variable ${issue?.path[0]?.toString() ?? '?'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const e = parsed.data;
  const fallbacks = e.DISCOVERY_FALLBACK;
  if (fallbacks.includes(e.DISCOVERY_SOURCE))
    throw new ConfigError(
      'invalid_environment',
      `invalid environment variable DISCOVERY_FALLBACK: ${e.DISCOVERY_SOURCE} is the primary (DISCOVERY_SOURCE) already`,
    );
  if (new Set(fallbacks).size !== fallbacks.length)
    throw new ConfigError('invalid_environment', 'invalid environment variable DISCOVERY_FALLBACK: a source is listed twice');
  const used = [e.DISCOVERY_SOURCE, ...fallbacks];
  if (used.includes('dns') && !e.CONSUL_DNS_ADDR)
    throw new ConfigError(
      'invalid_environment',
      'missing environment variable CONSUL_DNS_ADDR: the dns discovery source needs the resolvers (ip:port, comma list)',
    );
  if (used.includes('cloudmap') && !e.CLOUDMAP_NAMESPACE)
    throw new ConfigError(
      'invalid_environment',
      'missing environment variable CLOUDMAP_NAMESPACE: the cloudmap discovery source needs the namespace health-sync mirrors into',
    );
  return {
    source: e.DISCOVERY_SOURCE,
    fallbacks,
    dnsServers: used.includes('dns') ? (e.CONSUL_DNS_ADDR ?? []) : [],
    ...(used.includes('cloudmap') && e.CLOUDMAP_NAMESPACE
      ? {
          cloudMap: {
            namespace: e.CLOUDMAP_NAMESPACE,
            region: e.CLOUDMAP_REGION ?? (env.AWS_REGION?.trim() || 'us-east-1'),
            ...(e.CLOUDMAP_ENDPOINT ? { endpoint: e.CLOUDMAP_ENDPOINT } : {}),
            ...(e.CLOUDMAP_POLL_SECONDS !== undefined ? { pollSeconds: e.CLOUDMAP_POLL_SECONDS } : {}),
            ...(e.CLOUDMAP_DATACENTER ? { datacenter: e.CLOUDMAP_DATACENTER } : {}),
          },
        }
      : {}),
  };
}

/** What can change from one invocation to the next in one execution environment. */
export interface InvocationEnvironment {
  /** _X_AMZN_TRACE_ID: the X-Ray trace header Lambda sets for each invocation (absent outside Lambda). */
  xrayTraceId?: string;
  /** TRACE_PROPAGATION: false when it is `false`, `off` or `0` (default on). */
  tracePropagation: boolean;
}

/**
 * Reads the variables that hold per invocation; call it once per invocation, never cache it: Lambda
 * sets a new _X_AMZN_TRACE_ID for each one, and reading TRACE_PROPAGATION each time lets a benchmark
 * compare both in one process. Two property reads, no validation (the trace header is parsed by its user).
 */
export function readInvocationEnvironment(env: NodeJS.ProcessEnv = process.env): InvocationEnvironment {
  const propagation = env.TRACE_PROPAGATION?.trim().toLowerCase();
  const xray = env._X_AMZN_TRACE_ID;
  return {
    ...(xray ? { xrayTraceId: xray } : {}),
    tracePropagation: propagation !== 'false' && propagation !== 'off' && propagation !== '0',
  };
}

/** GREETER_CACERT: the path of the PEM file holding the CA of backends reached over TLS; undefined when unset or blank. */
export function readBackendCaFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.GREETER_CACERT?.trim() || undefined;
}

/** Powertools' naming, as the environment gives it (each undefined when unset or blank). */
export interface PowertoolsEnvironment {
  /** POWERTOOLS_SERVICE_NAME: names the logger's lines and the metrics' service dimension. */
  serviceName?: string;
  /** POWERTOOLS_METRICS_NAMESPACE: metrics are off without it. */
  metricsNamespace?: string;
  /** AWS_LAMBDA_FUNCTION_NAME: the metrics' service when no name is given. */
  functionName?: string;
}

/** Reads Powertools' names once per environment (Lambda never changes them while it runs); never throws. */
export function readPowertoolsEnvironment(env: NodeJS.ProcessEnv = process.env): PowertoolsEnvironment {
  const serviceName = env.POWERTOOLS_SERVICE_NAME?.trim();
  const metricsNamespace = env.POWERTOOLS_METRICS_NAMESPACE?.trim();
  const functionName = env.AWS_LAMBDA_FUNCTION_NAME?.trim();
  return {
    ...(serviceName ? { serviceName } : {}),
    ...(metricsNamespace ? { metricsNamespace } : {}),
    ...(functionName ? { functionName } : {}),
  };
}

/** How the Lambda runtime describes the function and this environment, as set (each undefined when unset, e.g. outside Lambda). */
export interface LambdaFunctionIdentity {
  functionName?: string;
  version?: string;
  region?: string;
  memoryMb?: string;
  /** AWS_EXECUTION_ENV: the runtime's name, e.g. AWS_Lambda_nodejs20.x. */
  executionEnv?: string;
  logStream?: string;
}

/** Reads the function's identity (AWS_LAMBDA_FUNCTION_NAME and friends) once per environment; never throws. */
export function readLambdaFunctionIdentity(env: NodeJS.ProcessEnv = process.env): LambdaFunctionIdentity {
  const fields = {
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    version: env.AWS_LAMBDA_FUNCTION_VERSION,
    region: env.AWS_REGION,
    memoryMb: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    executionEnv: env.AWS_EXECUTION_ENV,
    logStream: env.AWS_LAMBDA_LOG_STREAM_NAME,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as LambdaFunctionIdentity;
}

/** True when COLD_START_TRACE=1: read once, at load, so an environment traces its own cold start only. */
export function readColdStartTraceEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.COLD_START_TRACE === '1';
}

/**
 * The variables secrets are looked up in (see lib/config/secrets.ts), live: a secret's name is known only
 * when its user asks for it (a token, a CA), so the lookup cannot be a fixed set read up front.
 */
export function secretVariables(): Readonly<Record<string, string | undefined>> {
  return process.env;
}
