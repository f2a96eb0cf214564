/**
 * `npm run invoke:rie -- <function> [--data '<event JSON>']`: packages the functions
 * (serverless package, into a temp dir), runs one invocation of <function> in the AWS
 * Lambda Runtime Interface Emulator with the official Node runtime interface client,
 * prints its logs, the response and the REPORT line, and stops everything.
 *
 * Consul: CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN from the environment; without a token,
 * the stack `npm start` runs (its state in .local-stack/): its address, and the token it
 * gave that function (found with the stack's management token, never printed).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startLambdaRie, type LambdaRie, type RieInvocation } from './lambda-rie';
import { packageFunctions, readPackage, type PackageOutput } from './package-functions';
import { RIC_VERSION } from './ric';
import { RIE_VERSION } from './rie-binary';

const ROOT = join(__dirname, '..', '..');

const HELP = `Usage: npm run invoke:rie -- <function> [--data '<event JSON>'] [options]
  <function>          greet | status | instances | healthSync (as named in serverless.yml)
  --data JSON         the event (default: GET /hello/World for greet, GET /status, GET /instances?service=greeter,
                      {"dryRun":true} for healthSync); API events are API Gateway events (httpApi v2 for greet,
                      REST v1 for status and instances), as Lambda would receive them
  --package-dir DIR   use an existing \`serverless package --package DIR\` output instead of packaging
  --no-extension      no internal extension: the emulator then SIGKILLs the runtime at shutdown, as Lambda
                      does without extensions, so the environment lease is left for Consul to expire
  --node PATH         the Node binary of the runtime (default: this one; the template says nodejs22.x)
  --state-dir DIR     the local stack's state (default: .local-stack/ in the repo, or LOCAL_STACK_DIR)
  --verbose           echo the emulator's whole output
Consul: CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN (and REGISTRY_SIGNING_KEY for instances) from the environment;
without CONSUL_HTTP_TOKEN, the running \`npm start\` stack's address and the token it gave that function.`;

const DEFAULT_EVENTS: Record<string, unknown> = {
  greet: {
    version: '2.0',
    routeKey: 'GET /hello/{name}',
    rawPath: '/hello/World',
    rawQueryString: '',
    headers: {},
    pathParameters: { name: 'World' },
    isBase64Encoded: false,
    requestContext: { http: { method: 'GET', path: '/hello/World' } },
  },
  status: {
    resource: '/status',
    path: '/status',
    httpMethod: 'GET',
    headers: {},
    queryStringParameters: null,
    pathParameters: null,
    body: null,
    isBase64Encoded: false,
    requestContext: {},
  },
  instances: {
    resource: '/instances',
    path: '/instances',
    httpMethod: 'GET',
    headers: {},
    queryStringParameters: { service: 'greeter' },
    pathParameters: null,
    body: null,
    isBase64Encoded: false,
    requestContext: {},
  },
  healthSync: { dryRun: true },
};

/** The base policy of the token `npm start` provisions for each function (its description names it first). */
const STACK_TOKEN_POLICY: Record<string, string> = {
  greet: 'greeter-gateway',
  status: 'greeter-gateway',
  instances: 'instance-registry',
  healthSync: 'health-sync',
};

function options() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      data: { type: 'string' },
      'package-dir': { type: 'string' },
      'no-extension': { type: 'boolean', default: false },
      node: { type: 'string' },
      'state-dir': { type: 'string', default: process.env.LOCAL_STACK_DIR ?? join(ROOT, '.local-stack') },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || positionals.length !== 1) {
    console.log(HELP);
    process.exit(values.help ? 0 : 2);
  }
  const fn = positionals[0] ?? '';
  let event: unknown = DEFAULT_EVENTS[fn];
  if (values.data !== undefined) {
    try {
      event = JSON.parse(values.data);
    } catch (err) {
      throw new Error(`--data is not valid JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
  return {
    fn,
    event,
    packageDir: values['package-dir'],
    extension: !values['no-extension'],
    node: values.node,
    stateDir: resolve(values['state-dir']),
    verbose: values.verbose,
  };
}

/** KEY=value lines of an env file (as `npm start` writes health-sync.env). */
function readEnvFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m?.[1]) out[m[1]] = m[2] ?? '';
  }
  return out;
}

async function consulGet(address: string, token: string, path: string): Promise<unknown> {
  const res = await fetch(`http://${address}/v1${path}`, { headers: { 'x-consul-token': token }, signal: AbortSignal.timeout(3_000) });
  if (!res.ok) throw new Error(`Consul ${path} answered ${res.status}`);
  return res.json();
}

/** Where Consul is and the function's token: the environment's, or the running local stack's. */
async function consulFor(fn: string, stateDir: string): Promise<{ address: string; token: string; source: string }> {
  const envToken = process.env.CONSUL_HTTP_TOKEN?.trim();
  const stackEnv = join(stateDir, 'health-sync.env');
  const stack = existsSync(stackEnv) ? readEnvFile(stackEnv) : undefined;
  const address = process.env.CONSUL_HTTP_ADDR?.trim() || stack?.CONSUL_HTTP_ADDR || '127.0.0.1:8500';
  if (envToken) return { address, token: envToken, source: 'CONSUL_HTTP_TOKEN from the environment' };
  if (!stack)
    throw new Error(
      `no Consul token: set CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN, or start the local stack (npm start), whose state would be in ${stateDir}`,
    );
  if (address !== stack.CONSUL_HTTP_ADDR)
    throw new Error(`CONSUL_HTTP_ADDR is ${address} but the local stack's Consul is ${stack.CONSUL_HTTP_ADDR}; set CONSUL_HTTP_TOKEN too`);
  try {
    await consulGet(address, '', '/status/leader');
  } catch {
    throw new Error(
      `the local stack in ${stateDir} is not running (no Consul at ${address}); start it with npm start, or set CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN`,
    );
  }
  if (fn === 'healthSync' && stack.CONSUL_HTTP_TOKEN)
    return { address, token: stack.CONSUL_HTTP_TOKEN, source: `the local stack (${stackEnv})` };
  const management = readFileSync(join(stateDir, 'management-token'), 'utf8').trim();
  const base = STACK_TOKEN_POLICY[fn];
  const described = new RegExp(`^consul-grpc-lambda: ${base}( \\+ |$)`);
  const tokens = (
    (await consulGet(address, management, '/acl/tokens')) as { AccessorID: string; Description?: string; CreateIndex: number }[]
  ).filter((t) => described.test(t.Description ?? ''));
  const newest = tokens.sort((a, b) => b.CreateIndex - a.CreateIndex)[0];
  if (!newest) throw new Error(`the local stack has no ${base} token; is it an older stack? set CONSUL_HTTP_TOKEN`);
  const secret = ((await consulGet(address, management, `/acl/token/${newest.AccessorID}`)) as { SecretID?: string }).SecretID;
  if (!secret) throw new Error(`could not read the local stack's ${base} token`);
  return { address, token: secret, source: `the local stack's ${base} token` };
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
    if (o.event === undefined)
      throw new Error(`no default event for "${o.fn}" (functions with one: ${Object.keys(DEFAULT_EVENTS).join(', ')}); pass --data`);
    const consul = await consulFor(o.fn, o.stateDir);
    let functions;
    if (o.packageDir) functions = readPackage(resolve(o.packageDir));
    else {
      const t0 = Date.now();
      console.error('• packaging (serverless package into a temp dir)…');
      pkg = await packageFunctions({ env: { LOG_LEVEL: process.env.LOG_LEVEL } });
      functions = pkg.functions;
      console.error(`  packaged in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    const fn = functions.get(o.fn);
    if (!fn) throw new Error(`no function "${o.fn}" in the package; there are: ${[...functions.keys()].join(', ')}`);
    const env: Record<string, string | undefined> = {
      CONSUL_HTTP_ADDR: consul.address,
      CONSUL_HTTP_TOKEN: consul.token,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED,
    };
    for (const [k, v] of Object.entries(process.env)) if (k.startsWith('AWS_ENDPOINT_URL') && v) env[k] = v;
    if (o.fn === 'instances') {
      env.REGISTRY_SIGNING_KEY = process.env.REGISTRY_SIGNING_KEY;
      if (!env.REGISTRY_SIGNING_KEY) {
        env.REGISTRY_SIGNING_KEY = randomBytes(32).toString('hex');
        console.error('  REGISTRY_SIGNING_KEY not set: using a random key, so instance tokens from this run verify only in this run');
      }
    }
    const nodeVersion = o.node ? execFileSync(o.node, ['--version'], { encoding: 'utf8' }).trim() : process.version;
    console.error(
      `• ${fn.functionName} (${fn.handler}, ${fn.memorySize} MB, ${fn.timeout} s) in aws-lambda-rie ${RIE_VERSION} + aws-lambda-ric ${RIC_VERSION}, Node ${nodeVersion} (template runtime ${fn.runtime})`,
    );
    console.error(`  Consul ${consul.address}, token: ${consul.source}`);
    rie = await startLambdaRie({
      fn,
      env,
      sigtermExtension: o.extension,
      node: o.node ? resolve(o.node) : undefined,
      echo: o.verbose ? (l) => console.error(`[rie] ${l}`) : undefined,
      log: (l) => console.error(l),
    });
    const inv = await rie.invoke(o.event);
    print(inv);
    const failed = inv.status !== 200 || (typeof inv.payload === 'object' && inv.payload !== null && 'errorType' in inv.payload);
    return failed ? 1 : 0;
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
