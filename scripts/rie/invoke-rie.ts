/**
 * `npm run invoke:rie -- <function> [--data '<event or request JSON>']`: packages the functions
 * (serverless package, into a temp dir), runs one invocation of <function> in the AWS Lambda
 * Runtime Interface Emulator with the official Node runtime interface client, prints its logs,
 * the response and the REPORT line, and stops everything.
 *
 * Consul: CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN from the environment; without a token, the stack
 * `npm start` runs (its state in .local-stack/ or LOCAL_STACK_DIR): its address and, with --tls,
 * its CA and client certificate and the Greeters' CA, and the token it gave that function (found
 * with the stack's management token, never printed).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createConsulApi } from '../../lib/consul/consul-api';
import { readConsulTlsFiles } from '../../lib/config/environment';
import { parseEnvFile, readStackState, stateDir } from '../tools/stack-state';
import { eventFor } from './events';
import { startLambdaRie, type LambdaRie, type RieInvocation } from './lambda-rie';
import { packageFunctions, readPackage, type PackagedFunction, type PackageOutput } from './package-functions';
import { RIC_VERSION } from './ric';
import { RIE_VERSION } from './rie-binary';

const HELP = `Usage: npm run invoke:rie -- <function> [--data '<JSON>' | --data @file.json] [options]
  <function>          greet | status | instances | healthSync (as named in serverless.yml)
  --data JSON         the event, or for greet, status and instances a request turned into the API Gateway event
                      their trigger sends (httpApi v2 for greet, REST v1 with its resource for the others), e.g.
                        greet      '{"method":"POST","path":"/greet","body":{"name":"Grace"}}'
                        instances  '{"method":"POST","path":"/instances","body":{"service":"ephemeral-job","address":"10.0.0.7","port":8080}}'
                        healthSync '{"dryRun":false}'
                      default: GET /hello/World, GET /status, GET /instances?service=ephemeral-job, {"dryRun":true}
  --package-dir DIR   use an existing \`serverless package --package DIR\` output instead of packaging
  --no-extension      no internal extension: the emulator then SIGKILLs the runtime at shutdown, as Lambda
                      does without extensions, so the environment lease is left for Consul to expire
  --node PATH         the Node binary of the runtime (default: this one; the template says nodejs22.x)
  --state-dir DIR     the local stack's state (default: .local-stack/ in the repo, or LOCAL_STACK_DIR)
  --verbose           echo the emulator's whole output
Consul: CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN (CONSUL_CACERT, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY, GREETER_CACERT
with TLS, REGISTRY_SIGNING_KEY for instances) from the environment; without CONSUL_HTTP_TOKEN, the running
\`npm start\` stack's address, certificates, and the token it gave that function.`;

/** The base policy of the token `npm start` provisions for each function (its description names it first). */
const STACK_TOKEN_POLICY: Record<string, string> = {
  greet: 'greeter-gateway',
  status: 'greeter-gateway',
  instances: 'instance-registry',
  healthSync: 'health-sync',
};
/** The TLS variables a function reads, passed on from the environment or the stack. */
const TLS_VARS = ['CONSUL_CACERT', 'CONSUL_CLIENT_CERT', 'CONSUL_CLIENT_KEY', 'CONSUL_TLS_SERVER_NAME', 'GREETER_CACERT'] as const;

function options() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      data: { type: 'string' },
      'package-dir': { type: 'string' },
      'no-extension': { type: 'boolean', default: false },
      node: { type: 'string' },
      'state-dir': { type: 'string', default: stateDir() },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || positionals.length !== 1) {
    console.log(HELP);
    process.exit(values.help ? 0 : 2);
  }
  const fn = positionals[0] ?? '';
  return {
    fn,
    event: eventFor(fn, values.data),
    packageDir: values['package-dir'],
    extension: !values['no-extension'],
    node: values.node,
    stateDir: resolve(values['state-dir']),
    verbose: values.verbose,
  };
}

/** Where Consul is, the function's token, and the TLS variables that reach it. */
interface ConsulTarget {
  address: string;
  token: string;
  source: string;
  tlsEnv: Record<string, string>;
}

/** Where Consul is and the function's token: the environment's, or the running local stack's. */
async function consulFor(fn: string, dir: string): Promise<ConsulTarget> {
  const envToken = process.env.CONSUL_HTTP_TOKEN?.trim();
  const envAddress = process.env.CONSUL_HTTP_ADDR?.trim();
  const fromEnv = Object.fromEntries(TLS_VARS.flatMap((k) => (process.env[k]?.trim() ? [[k, process.env[k]?.trim() ?? '']] : [])));
  if (envToken)
    return { address: envAddress || '127.0.0.1:8500', token: envToken, source: 'CONSUL_HTTP_TOKEN from the environment', tlsEnv: fromEnv };
  const stack = readStackState(dir);
  if (!stack)
    throw new Error(
      `no Consul token: set CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN, or start the local stack (npm start), whose state would be in ${dir}`,
    );
  if (envAddress && envAddress !== stack.CONSUL_HTTP_ADDR)
    throw new Error(
      `CONSUL_HTTP_ADDR is ${envAddress} but the local stack's Consul is ${stack.CONSUL_HTTP_ADDR}; set CONSUL_HTTP_TOKEN too`,
    );
  const tlsEnv = Object.fromEntries(
    TLS_VARS.flatMap((k) => (stack[k as keyof typeof stack] ? [[k, String(stack[k as keyof typeof stack])]] : [])),
  );
  const target = { address: stack.CONSUL_HTTP_ADDR, tlsEnv };
  if (fn === 'healthSync') {
    const token = parseEnvFile(readFileSync(join(dir, 'health-sync.env'), 'utf8')).CONSUL_HTTP_TOKEN;
    if (token) return { ...target, token, source: `the local stack (${join(dir, 'health-sync.env')})` };
  }
  return { ...target, ...(await stackToken(fn, dir, target)) };
}

/** The token the stack gave `fn`'s policy (the newest), read with the stack's management token. */
async function stackToken(fn: string, dir: string, target: { address: string; tlsEnv: Record<string, string> }) {
  const management = readFileSync(join(dir, 'management-token'), 'utf8').trim();
  const admin = createConsulApi({ address: target.address, token: management, timeoutMs: 3_000, tls: readConsulTlsFiles(target.tlsEnv) });
  try {
    try {
      await admin.request('status leader', {}, { method: 'GET', path: '/status/leader' });
    } catch {
      throw new Error(
        `the local stack in ${dir} is not running (no Consul at ${target.address}); start it with npm start, or set CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN`,
      );
    }
    const base = STACK_TOKEN_POLICY[fn];
    const described = new RegExp(`^consul-grpc-lambda: ${base}( \\+ |$)`);
    const tokens = (
      (await admin.request('acl tokens', {}, { method: 'GET', path: '/acl/tokens' })) as {
        AccessorID: string;
        Description?: string;
        CreateIndex: number;
      }[]
    ).filter((t) => described.test(t.Description ?? ''));
    const newest = tokens.sort((a, b) => b.CreateIndex - a.CreateIndex)[0];
    if (!newest) throw new Error(`the local stack has no ${base} token; is it an older stack? set CONSUL_HTTP_TOKEN`);
    const read = (await admin.request('acl token', {}, { method: 'GET', path: `/acl/token/${newest.AccessorID}` })) as {
      SecretID?: string;
    };
    if (!read.SecretID) throw new Error(`could not read the local stack's ${base} token`);
    return { token: read.SecretID, source: `the local stack's ${base} token` };
  } finally {
    admin.destroy();
  }
}

/** The packaged functions: an existing package dir, or a fresh `serverless package` into a temp dir. */
async function packaged(packageDir: string | undefined): Promise<{ functions: Map<string, PackagedFunction>; pkg?: PackageOutput }> {
  if (packageDir) return { functions: readPackage(resolve(packageDir)) };
  const t0 = Date.now();
  console.error('• packaging (serverless package into a temp dir)…');
  const pkg = await packageFunctions({ env: { LOG_LEVEL: process.env.LOG_LEVEL } });
  console.error(`  packaged in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { functions: pkg.functions, pkg };
}

/** What the function gets on top of its packaged environment: Consul, TLS, keys, the local AWS endpoint. */
function functionEnv(fn: string, consul: ConsulTarget): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    CONSUL_HTTP_ADDR: consul.address,
    CONSUL_HTTP_TOKEN: consul.token,
    ...consul.tlsEnv,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED,
  };
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('AWS_ENDPOINT_URL') && v) env[k] = v;
  if (fn === 'instances') {
    env.REGISTRY_SIGNING_KEY = process.env.REGISTRY_SIGNING_KEY;
    if (!env.REGISTRY_SIGNING_KEY) {
      env.REGISTRY_SIGNING_KEY = randomBytes(32).toString('hex');
      console.error('  REGISTRY_SIGNING_KEY not set: using a random key, so instance tokens from this run verify only in this run');
    }
  }
  return env;
}

function print(inv: RieInvocation): void {
  const logs = inv.logs.filter((l) => !/^(START|END|REPORT) RequestId: |\(rapid\) /.test(l));
  if (logs.length) console.log(`--- function logs ---\n${logs.join('\n')}`);
  console.log(`--- response (Invoke API ${inv.status}) ---`);
  const http = inv.payload as { statusCode?: unknown; body?: unknown } | undefined;
  if (http && typeof http.statusCode === 'number' && typeof http.body === 'string') {
    let body: unknown = http.body;
    try {
      body = JSON.parse(http.body);
    } catch {
      // not JSON: shown as text
    }
    console.log(JSON.stringify({ ...http, body }, null, 2));
  } else {
    console.log(inv.payload === undefined ? inv.body : JSON.stringify(inv.payload, null, 2));
  }
  console.log(`--- REPORT ---\n${inv.report.line.trimEnd()}`);
  const init =
    inv.runtimeInitMs === undefined
      ? ''
      : `runtime init ${inv.runtimeInitMs.toFixed(1)} ms (the emulator's INIT REPORT; REPORT's Init Duration is its bookkeeping only), `;
  console.log(
    `${init}peak RSS ${inv.peakRssMb ?? '?'} MB (REPORT's Max Memory Used is the configured size: the emulator does not measure memory)`,
  );
}

/** Failed: the Invoke API or the function failed, or an HTTP function answered outside 2xx. */
function failed(inv: RieInvocation): boolean {
  if (inv.status !== 200) return true;
  const p = inv.payload as { errorType?: unknown; statusCode?: unknown } | null | undefined;
  if (typeof p !== 'object' || p === null) return false;
  return 'errorType' in p || (typeof p.statusCode === 'number' && (p.statusCode < 200 || p.statusCode > 299));
}

async function main(): Promise<number> {
  const o = options();
  // The AWS SDK's Node 20 notice, as npm start silences it.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let pkg: PackageOutput | undefined;
  let rie: LambdaRie | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      await rie?.stop();
      pkg?.remove();
    })());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().finally(() => process.exit(130)));
  try {
    const consul = await consulFor(o.fn, o.stateDir);
    const built = await packaged(o.packageDir);
    pkg = built.pkg;
    const fn = built.functions.get(o.fn);
    if (!fn) throw new Error(`no function "${o.fn}" in the package; there are: ${[...built.functions.keys()].join(', ')}`);
    const nodeVersion = o.node ? execFileSync(o.node, ['--version'], { encoding: 'utf8' }).trim() : process.version;
    console.error(
      `• ${fn.functionName} (${fn.handler}, ${fn.memorySize} MB, ${fn.timeout} s) in aws-lambda-rie ${RIE_VERSION} + aws-lambda-ric ${RIC_VERSION}, Node ${nodeVersion} (template runtime ${fn.runtime})`,
    );
    console.error(`  Consul ${consul.address}${consul.tlsEnv.CONSUL_CACERT ? ' (TLS)' : ''}, token: ${consul.source}`);
    rie = await startLambdaRie({
      fn,
      env: functionEnv(o.fn, consul),
      sigtermExtension: o.extension,
      node: o.node ? resolve(o.node) : undefined,
      echo: o.verbose ? (l) => console.error(`[rie] ${l}`) : undefined,
      log: (l) => console.error(l),
    });
    const inv = await rie.invoke(o.event);
    print(inv);
    return failed(inv) ? 1 : 0;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
