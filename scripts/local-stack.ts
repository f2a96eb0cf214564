/**
 * `npm start`: the whole local stack on loopback, stopped cleanly with Ctrl-C.
 * Consul dev agent (ACLs on, UI) → least-privilege tokens → moto (Cloud Map) →
 * default config seeded into K/V → two Greeter backends and one Echo backend →
 * serverless-offline with the greet, rpc, status and instances functions and the
 * health-sync schedule.
 * `--discovery dns` puts CoreDNS (a caching forwarder) in front of the agent's DNS
 * port; `--discovery cloudmap` writes the mirror with a first health-sync pass.
 *
 * Lifecycle (stack/lifecycle.ts): Ctrl-C, SIGTERM, SIGHUP or the death of the parent (`kill` of
 * the npm process) stop everything; secrets live in owned paths removed on every exit, by a
 * watchdog after a SIGKILL of this process, or by the next start's sweep. A Greeter or the Echo
 * backend that dies is reported and the stack goes on (they are workloads); the death of Consul,
 * moto or serverless-offline stops the stack.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { CreateHttpNamespaceCommand, GetOperationCommand } from '@aws-sdk/client-servicediscovery';
import { createCloudMapClient } from '../lib/cloudmap/cloudmap-client';
import { healthSyncPolicies, registryPolicies } from './stack/acl-admin';
import * as tokens from './stack/tokens';
import { HEALTH_SYNC_KEYS } from '../lib/health-sync/health-sync-config';
import { REGISTRY_KEYS } from '../lib/registry/registry-config';
import { RPC_KEYS } from '../lib/rpc/rpc-config';
import { startMoto } from './stack/moto';
import { readConsulTlsFiles } from '../lib/config/environment';
import { createConsulApi } from '../lib/consul/consul-api';
import { startConsulAgent } from './stack/consul-agent';
import { startCoreDns } from './stack/coredns';
import { passingIds } from './stack/passing';
import { eventually } from './support/poll-until';
import { createConsulTlsFiles, createGreeterTlsFiles, type GreeterTlsFiles } from './stack/consul-tls';
import { startEcho, startGreeter } from './stack/greeters';
import { startOffline } from './stack/offline';
import { ownerAlive, ownerTag, onTermination, ownPath, sweepStale } from './stack/lifecycle';
import { assertPortFree, describeUnexpectedExit, freePort, stopAll, supervise, type UnexpectedExit } from './stack/processes';
import { seedDefaultConfig } from './stack/seed-config';
import { DEFAULT_STATE_DIR, formatEnvFile, STACK_STATE_FILE } from './tools/stack-state';

const HELP = `Usage: npm start -- [--consul-port 8500] [--http-port 3000] [--lambda-port 3002] [--greeter-ports 50051,50052] [--echo-port 50053]
                 [--state-dir DIR] [--tls] [--discovery consul|dns|cloudmap] [--fallback LIST] [--verbose]
  --state-dir  where the tokens, API key, health-sync.env and stack.env (the addresses and certificate paths
               npm run consul / aws / invoke:rie read; give them LOCAL_STACK_DIR=DIR) are written (default: .local-stack/)
  --echo-port  the Echo backend (echo.v1.Echo), which the rpc function calls at /rpc/echo.v1.Echo/<Method>
  --tls        Consul serves HTTPS only (verify_incoming on), the Greeters serve TLS and the gateway
               dials them with greeterTransport=tls (the rpc function with transport tls); certificates
               made by Consul's CLI in a private temp dir that is removed when the stack stops. The Echo
               backend serves plaintext (it has no TLS option)
  --discovery  the gateway's discovery source (DISCOVERY_SOURCE, default consul): dns starts the agent's DNS
               port with CoreDNS in front (CONSUL_DNS_ADDR); cloudmap reads the mirror health-sync writes in moto
  --fallback   sources tried in order while the primary cannot answer (DISCOVERY_FALLBACK, e.g. cloudmap)
Environment overrides: CONSUL_PORT, HTTP_PORT, OFFLINE_LAMBDA_PORT, GREETER_PORTS, ECHO_PORT, LOCAL_STACK_DIR,
LOCAL_STACK_TLS=1, LOCAL_STACK_DISCOVERY, LOCAL_STACK_FALLBACK.
Ctrl-C, SIGTERM, SIGHUP or the end of the parent (e.g. \`kill\` of npm) stop everything and remove every
token and key the stack wrote; a start sweeps what a killed run left. A Greeter or Echo backend that dies is
reported with the command that brings it back, and the stack goes on; if Consul, moto or serverless-offline dies, the stack
says which, stops the rest and exits non-zero.`;

function options() {
  const { values } = parseArgs({
    options: {
      'consul-port': { type: 'string', default: process.env.CONSUL_PORT ?? '8500' },
      'http-port': { type: 'string', default: process.env.HTTP_PORT ?? '3000' },
      'lambda-port': { type: 'string', default: process.env.OFFLINE_LAMBDA_PORT ?? '3002' },
      'greeter-ports': { type: 'string', default: process.env.GREETER_PORTS ?? '50051,50052' },
      'echo-port': { type: 'string', default: process.env.ECHO_PORT ?? '50053' },
      'state-dir': { type: 'string', default: process.env.LOCAL_STACK_DIR ?? DEFAULT_STATE_DIR },
      tls: { type: 'boolean', default: process.env.LOCAL_STACK_TLS === '1' },
      discovery: { type: 'string', default: process.env.LOCAL_STACK_DISCOVERY ?? 'consul' },
      fallback: { type: 'string', default: process.env.LOCAL_STACK_FALLBACK ?? '' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const port = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`--${name} must be a port number, got "${v}"`);
    return n;
  };
  return {
    consulPort: port('consul-port', values['consul-port']),
    httpPort: port('http-port', values['http-port']),
    lambdaPort: port('lambda-port', values['lambda-port']),
    greeterPorts: values['greeter-ports'].split(',').map((p) => port('greeter-ports', p.trim())),
    echoPort: port('echo-port', values['echo-port']),
    stateDir: resolve(values['state-dir']),
    tls: values.tls,
    ...discoveryOptions(values.discovery, values.fallback),
    verbose: values.verbose,
  };
}

const SOURCES = ['consul', 'dns', 'cloudmap'] as const;
type Source = (typeof SOURCES)[number];

/** --discovery and --fallback, checked here so a typo fails before anything starts (the functions check them again). */
function discoveryOptions(discovery: string, fallback: string): { discovery: Source; fallback: Source[] } {
  const source = (name: string, v: string): Source => {
    if (!(SOURCES as readonly string[]).includes(v)) throw new Error(`--${name} must be consul, dns or cloudmap, got "${v}"`);
    return v as Source;
  };
  const list = fallback
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((v) => source('fallback', v));
  const primary = source('discovery', discovery);
  if (list.includes(primary)) throw new Error(`--fallback must not name the primary (${primary}) again`);
  return { discovery: primary, fallback: list };
}

const PREFIX = 'config/greeter-gateway/local/';
/** The Cloud Map namespace (moto) health-sync mirrors into and the cloudmap source reads. */
const NAMESPACE = 'consul-grpc-lambda-local';
const REGISTRY_PREFIX = 'config/instance-registry/local/';
const HEALTH_SYNC_PREFIX = 'config/health-sync/local/';
const RPC_PREFIX = 'config/rpc-gateway/local/';
/**
 * What the rpc function may call here: the Greeter's SayHello (its default) and Echo's unary methods
 * but Secret, which stays unlisted to show that an unlisted method answers 404 like a missing one.
 */
const RPC_ALLOW = ['helloworld.Greeter/SayHello', 'echo.v1.Echo/Say', 'echo.v1.Echo/Get', 'echo.v1.Echo/Update', 'echo.v1.Echo/Fail'];
/** The Consul services the rpc function's token may discover: those RPC_ALLOW names, by the default rule. */
const RPC_SERVICES = ['greeter', 'echo'];
/** The registry may register throwaway workloads under these prefixes (each ends with "-"). */
const LOCAL_SERVICE_PREFIXES = ['ephemeral-'];
/**
 * Exact names opened besides the prefixes (allowedServices): none. `greeter` takes /hello's traffic,
 * so holding the API key must not be enough to join it, and the demo never needs to. To try it, put
 * `greeter` here: the registry's token then gets `service "greeter"` write (an exact rule, never a
 * prefix, which would also reach greeter-gateway-lambda) and the config `allowedServices=greeter`.
 */
const LOCAL_SERVICES: string[] = [];
/**
 * Services whose TTL checks health-sync may set (its probe grant, separate from the registry's names):
 * prefixes end with "-" like the registry's. Never `greeter`: the Greeters have agent checks, and a
 * probe grant on a routed service could register an instance that takes real traffic.
 */
const HEALTH_SYNC_PROBE_PREFIXES = ['ephemeral-'];
const HEALTH_SYNC_PROBE_SERVICES: string[] = [];

/** A path as a shell word: quoted only when it needs to be. */
const sh = (path: string) => (/^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`);

async function main(): Promise<void> {
  const o = options();
  // The AWS SDK warns (9 lines, once per process) that it will drop Node 20; this stack, the functions
  // in serverless-offline and the on-demand health-sync runs inherit this and keep quiet. Set it to
  // anything but "true" to see the warning again.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // What a killed run left (its watchdog killed too): stale temp dirs with tokens or keys, orphans.
  const swept = sweepStale();
  if (swept.dirs.length || swept.pids.length)
    console.log(`• swept what a dead run left: ${swept.dirs.length} temp dir(s), ${swept.pids.length} process(es)`);
  // A Greeter is a workload: its death is reported with the command that brings it back. Any
  // other child (Consul, moto, serverless-offline, CoreDNS) that dies takes the stack down, loudly.
  supervise((exit) => {
    const workload = workloadRestart.get(exit.name);
    if (workload && !stopping) {
      console.error(`${describeWorkloadDeath(exit)}; ${workload.goesOn}. Bring it back: ${workload.command}`);
      return;
    }
    console.error(`\n${describeUnexpectedExit(exit)}`);
    void shutdown(1);
  });
  const echo = (tag: string) => (o.verbose ? (line: string) => console.log(`[${tag}] ${line}`) : undefined);
  await assertPortFree(o.consulPort, 'Consul HTTP, --consul-port');
  await assertPortFree(o.httpPort, 'HTTP API, --http-port');
  await assertPortFree(o.lambdaPort, 'offline Lambda API, --lambda-port');
  for (const p of o.greeterPorts) await assertPortFree(p, 'Greeter backend, --greeter-ports');
  await assertPortFree(o.echoPort, 'Echo backend, --echo-port');

  const tls = o.tls ? makeTlsFiles() : undefined;
  console.log(`• starting Consul (ACLs on, default deny${tls ? ', HTTPS only with verify_incoming' : ''})…`);
  const usesDns = [o.discovery, ...o.fallback].includes('dns');
  const usesCloudMap = [o.discovery, ...o.fallback].includes('cloudmap');
  const consul = await startConsulAgent({
    httpPort: o.consulPort,
    ...(usesDns ? { dns: true } : {}),
    echo: echo('consul'),
    ...(tls
      ? {
          tls: {
            caFile: tls.consul.caFile,
            certFile: tls.consul.serverCertFile,
            keyFile: tls.consul.serverKeyFile,
            verifyIncoming: true,
            clientCertFile: tls.consul.clientCertFile,
            clientKeyFile: tls.consul.clientKeyFile,
          },
        }
      : {}),
  });
  // Everything below (tokens, config, the Greeters, the functions in serverless-offline) talks to
  // Consul with the CLI's variables: over https when --tls.
  if (tls) Object.assign(process.env, tls.env);
  const stateDir = o.stateDir;
  const secret = claimStateDir(stateDir);
  const tokenFile = secret('management-token');
  // The UI needs a token to log in; keep it in a private file instead of printing it.
  writeFileSync(tokenFile, `${consul.managementToken}\n`, { mode: 0o600 });

  const admin = createConsulApi({ address: consul.address, token: consul.managementToken, tls: readConsulTlsFiles() });
  const gatewayToken = await tokens.gatewayToken(admin, { configPrefix: PREFIX, lease: 'both' });
  const backendToken = await tokens.backendToken(admin);
  const rpcToken = await tokens.rpcToken(admin, RPC_PREFIX, RPC_SERVICES);
  const echoToken = await tokens.echoBackendToken(admin, ['echo']);
  const registryToken = await tokens.registryToken(admin, REGISTRY_PREFIX, registryPolicies(LOCAL_SERVICE_PREFIXES, LOCAL_SERVICES));
  const healthSyncToken = await tokens.healthSyncToken(
    admin,
    HEALTH_SYNC_PREFIX,
    healthSyncPolicies(HEALTH_SYNC_PROBE_PREFIXES, HEALTH_SYNC_PROBE_SERVICES),
  );

  console.log('• starting moto (Cloud Map emulator)…');
  const moto = await startMoto({ echo: echo('moto') });
  const cloudMap = createCloudMapClient({ region: 'us-east-1', endpoint: moto.endpoint });
  const op = await cloudMap.send(new CreateHttpNamespaceCommand({ Name: NAMESPACE }));
  const namespaceId = (await cloudMap.send(new GetOperationCommand({ OperationId: op.OperationId }))).Operation?.Targets?.NAMESPACE ?? '';
  cloudMap.destroy();

  const seeded = [
    ...(await seedDefaultConfig(admin, PREFIX, undefined, { exposeBackendAddress: 'true', ...(tls ? { greeterTransport: 'tls' } : {}) })),
    ...(await seedDefaultConfig(admin, REGISTRY_PREFIX, REGISTRY_KEYS, {
      allowedServicePrefixes: LOCAL_SERVICE_PREFIXES.join(','),
      allowedServices: LOCAL_SERVICES.join(','),
      allowedCidrs: '127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16',
      allowLoopback: 'true',
    })),
    ...(await seedDefaultConfig(admin, HEALTH_SYNC_PREFIX, HEALTH_SYNC_KEYS, {
      services: 'greeter',
      cloudMapNamespaceId: namespaceId,
      cloudMapEndpoint: moto.endpoint,
      cloudMapRegion: 'us-east-1',
    })),
    ...(await seedDefaultConfig(admin, RPC_PREFIX, RPC_KEYS, {
      rpcAllow: RPC_ALLOW.join(','),
      // With --tls the Greeters serve TLS only (CA: GREETER_CACERT); Echo stays on the default, plaintext.
      ...(tls ? { rpcServices: JSON.stringify({ 'helloworld.Greeter': { transport: 'tls' } }) } : {}),
    })),
  ];
  console.log(`• config: ${seeded.length} default key(s) seeded under config/*/local/`);
  // For on-demand runs against this stack: `env $(cat .local-stack/health-sync.env) npm run health-sync -- --dry-run`.
  const tlsEnv = tls
    ? Object.entries(tls.env)
        .map(([k, v]) => `${k}=${v}\n`)
        .join('')
    : '';
  const hsEnv = `${tlsEnv}CONSUL_HTTP_ADDR=${consul.address}\nCONSUL_HTTP_TOKEN=${healthSyncToken}\nHEALTH_SYNC_CONSUL_TOKEN=${healthSyncToken}\nCONFIG_PREFIX=${HEALTH_SYNC_PREFIX}\nAWS_REGION=us-east-1\nAWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=${process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED}\n`;
  const hsEnvFile = secret('health-sync.env');
  writeFileSync(hsEnvFile, hsEnv, { mode: 0o600 });
  const apiKey = randomBytes(24).toString('base64url');
  const apiKeyFile = secret('registry-api-key');
  writeFileSync(apiKeyFile, `${apiKey}\n`, { mode: 0o600 });

  // The backend token (greeter-backend policy: register and check the Greeter service only), so a
  // Greeter started by hand can join the stack: the restart command printed on a Greeter's death uses it.
  const backendTokenFile = secret('greeter-backend-token');
  writeFileSync(backendTokenFile, `${backendToken}\n`, { mode: 0o600 });
  for (const [i, port] of o.greeterPorts.entries()) {
    const id = `greeter-${i + 1}`;
    const g = await startGreeter({
      consulAddress: consul.address,
      token: backendToken,
      id,
      port,
      echo: echo(id),
      ...(tls ? { tls: { certFile: tls.greeter.certFile, keyFile: tls.greeter.keyFile } } : {}),
    });
    workloadRestart.set(g.process.name, {
      goesOn: 'the stack goes on with the other Greeters',
      command: greeterCommand({
        id,
        port: g.port,
        consulAddress: consul.address,
        tokenFile: backendTokenFile,
        tlsEnv: tls?.env,
        tlsFiles: tls?.greeter,
      }),
    });
    console.log(`• Greeter ${g.id} on 127.0.0.1:${g.port}${tls ? ' (TLS)' : ''}, registered in Consul`);
  }
  // One Echo backend (service echo, its own token file for the printed restart), for the rpc function's walkthrough.
  const echoTokenFile = secret('echo-backend-token');
  writeFileSync(echoTokenFile, `${echoToken}\n`, { mode: 0o600 });
  const echoBackend = await startEcho({
    consulAddress: consul.address,
    token: echoToken,
    id: 'echo-1',
    port: o.echoPort,
    echo: echo('echo-1'),
  });
  workloadRestart.set(echoBackend.process.name, {
    goesOn: 'the stack goes on; /rpc/echo.v1.Echo/… answers 503 until an Echo passes again',
    command: echoCommand({
      id: 'echo-1',
      port: echoBackend.port,
      consulAddress: consul.address,
      tokenFile: echoTokenFile,
      tlsEnv: tls?.env,
    }),
  });
  console.log(
    `• Echo ${echoBackend.id} on 127.0.0.1:${echoBackend.port}${tls ? ' (plaintext: the Echo backend has no TLS option)' : ''}, registered in Consul`,
  );

  // The gateway's discovery: what DISCOVERY_SOURCE / DISCOVERY_FALLBACK need (serverless.yml reads them for stage local).
  const discoveryEnv: Record<string, string> = { DISCOVERY_SOURCE: o.discovery, DISCOVERY_FALLBACK: o.fallback.join(',') };
  let dnsAddress: string | undefined;
  if (usesDns) {
    if (!consul.dnsAddress) throw new Error('the Consul agent did not open its DNS port');
    console.log("• starting CoreDNS (forward + cache for consul.) in front of the agent's DNS port…");
    dnsAddress = (await startCoreDns({ upstreams: [consul.dnsAddress], echo: echo('coredns') })).address;
    discoveryEnv.CONSUL_DNS_ADDR = dnsAddress;
  }
  if (usesCloudMap) {
    Object.assign(discoveryEnv, { CLOUDMAP_NAMESPACE: NAMESPACE, CLOUDMAP_ENDPOINT: moto.endpoint, CLOUDMAP_REGION: 'us-east-1' });
    // The mirror must exist before the first greet: wait for the Greeters to pass, then one health-sync pass.
    await eventually(
      async () => (await passingIds(admin, 'greeter')).length >= o.greeterPorts.length,
      30_000,
      'the Greeters to pass their checks',
    );
    console.log('• health-sync: first pass, mirroring the Greeters into Cloud Map…');
    await promisify(execFile)(process.execPath, ['--import', 'tsx', join(__dirname, 'health-sync.ts')], {
      env: { ...process.env, ...envFileVars(hsEnv) },
      timeout: 60_000,
    });
  }
  admin.destroy();

  console.log('• starting serverless-offline…');
  const offline = await startOffline({
    httpPort: o.httpPort,
    lambdaPort: o.lambdaPort,
    consulAddress: consul.address,
    gatewayToken,
    healthSyncToken,
    rpcToken,
    registry: { consulToken: registryToken, signingKey: randomBytes(32).toString('base64'), apiKey },
    extraEnv: { AWS_REGION: 'us-east-1', ...discoveryEnv },
    echo: echo('offline'),
  });

  const stackEnv = secret(STACK_STATE_FILE);
  writeFileSync(
    stackEnv,
    formatEnvFile({
      CONSUL_HTTP_ADDR: consul.address,
      ...tls?.env,
      MOTO_ENDPOINT: moto.endpoint,
      AWS_REGION: 'us-east-1',
      HTTP_API: offline.baseUrl,
    }),
  );
  const spare = await freePort();
  console.log(
    banner({
      o,
      consulAddress: consul.address,
      tls,
      tokenFile,
      apiKeyFile,
      hsEnvFile,
      baseUrl: offline.baseUrl,
      motoEndpoint: moto.endpoint,
      namespaceId,
      dnsAddress,
      echoPort: echoBackend.port,
      addGreeter: greeterCommand({
        id: `greeter-${o.greeterPorts.length + 1}`,
        port: spare,
        consulAddress: consul.address,
        tokenFile: backendTokenFile,
        tlsEnv: tls?.env,
        tlsFiles: tls?.greeter,
      }),
    }),
  );
}

/**
 * What the stack prints once it is up: where everything is, and commands that work as printed
 * from any directory (absolute paths, `npm --prefix`; a state dir other than the default is
 * passed on as LOCAL_STACK_DIR). Each command is a line of its own, and needs nothing a fresh
 * machine lacks (no jq, no grpcurl or AWS CLI on the PATH: the npm wrappers run the pinned ones).
 */
function banner(b: {
  o: ReturnType<typeof options>;
  consulAddress: string;
  tls: ReturnType<typeof makeTlsFiles> | undefined;
  tokenFile: string;
  apiKeyFile: string;
  hsEnvFile: string;
  baseUrl: string;
  motoEndpoint: string;
  namespaceId: string;
  dnsAddress: string | undefined;
  echoPort: number;
  addGreeter: string;
}): string {
  const { o, tls, baseUrl } = b;
  const key = `"x-api-key: $(cat ${sh(b.apiKeyFile)})"`;
  const npm = `npm --prefix ${sh(join(__dirname, '..'))} run`;
  // The wrappers that find the stack through its state dir.
  const npmStack = `${o.stateDir === DEFAULT_STATE_DIR ? '' : `LOCAL_STACK_DIR=${sh(o.stateDir)} `}${npm}`;
  const tlsLines = tls
    ? `
  TLS         CA and client certificate in ${tls.consul.dir} (removed on stop); e.g.
  CONSUL_HTTP_TOKEN=$(cat ${sh(b.tokenFile)}) ${npmStack} consul -- members
  ${npm} grpcurl -- -cacert ${sh(tls.greeter.caFile)} -servername greeter.service.consul 127.0.0.1:${o.greeterPorts[0]} list`
    : `
  CLIs        the pinned consul and grpcurl, through npm; e.g.
  CONSUL_HTTP_TOKEN=$(cat ${sh(b.tokenFile)}) ${npmStack} consul -- members
  ${npm} grpcurl -- -plaintext 127.0.0.1:${o.greeterPorts[0]} grpc.health.v1.Health/Check`;
  return `
READY  local stack is up (Ctrl-C stops everything; tokens and keys are removed on stop)
  Consul UI   ${tls ? '' : 'http://'}${b.consulAddress}/ui  (log in with the token in ${b.tokenFile})${tlsLines}
  HTTP API    ${baseUrl}
  Discovery   ${discoveryBanner(o.discovery, o.fallback, b.dnsAddress, b.motoEndpoint, npmStack)}

  curl ${baseUrl}/hello/Ada
  curl -X POST ${baseUrl}/greet -H 'content-type: application/json' -d '{"name":"Grace"}'
  curl ${baseUrl}/status -H ${key}

  Any allow-listed gRPC method over HTTP (the rpc function; rpcAllow under ${RPC_PREFIX}), then Echo's google.api.http route of Get:
  curl -X POST ${baseUrl}/rpc/helloworld.Greeter/SayHello -H 'content-type: application/json' -d '{"name":"Ada"}'
  curl -X POST ${baseUrl}/rpc/echo.v1.Echo/Say -H 'content-type: application/json' -d '{"message":"hi","mood":"MOOD_HAPPY","tags":["a","b"]}'
  curl "${baseUrl}/v1/rooms/lobby?message=hi"
  The same Say from grpcurl, straight to the Echo backend${tls ? ' (plaintext even with --tls: it has no TLS option)' : ''}:
  ${npm} grpcurl -- -plaintext -d '{"message":"hi","mood":"MOOD_HAPPY","tags":["a","b"]}' 127.0.0.1:${b.echoPort} echo.v1.Echo/Say

  Instance registry (API key in ${b.apiKeyFile}, also needed by /status):
  curl -X POST ${baseUrl}/instances -H ${key} \\
       -H 'content-type: application/json' -d '{"service":"ephemeral-job","address":"10.0.0.7","port":8080,"ttl":"60s"}'
  curl "${baseUrl}/instances?service=ephemeral-job" -H ${key}

  Health-sync runs every minute (Cloud Map: moto at ${b.motoEndpoint}, namespace ${b.namespaceId}); on demand:
  env $(cat ${sh(b.hsEnvFile)}) ${npm} health-sync -- --dry-run

  Another Greeter joins the stack with the backend token (Ctrl-C stops it; it deregisters):
  ${b.addGreeter}
`;
}

/** Supervised name of each workload ("greeter <id>", "echo <id>") → what its death leaves, and the shell command that starts it again. */
const workloadRestart = new Map<string, { goesOn: string; command: string }>();

/** A shell command that starts Greeter `id` again on its port and registers it with the stack's Consul. */
function greeterCommand(g: {
  id: string;
  port: number;
  consulAddress: string;
  tokenFile: string;
  tlsEnv: Record<string, string> | undefined;
  tlsFiles: GreeterTlsFiles | undefined;
}): string {
  const env = [`CONSUL_HTTP_TOKEN=$(cat ${sh(g.tokenFile)})`, ...Object.entries(g.tlsEnv ?? {}).map(([k, v]) => `${k}=${sh(v)}`)].join(' ');
  const tlsArgs = g.tlsFiles ? ` --tls-cert ${sh(g.tlsFiles.certFile)} --tls-key ${sh(g.tlsFiles.keyFile)}` : '';
  return `${env} npm --prefix ${sh(join(__dirname, '..'))} run greeter -- --id ${g.id} --port ${g.port} --consul-addr ${g.consulAddress} --check-interval 1s${tlsArgs}`;
}

/**
 * A shell command that starts Echo backend `id` again on its port and registers it with the stack's Consul
 * (`npm exec` finds tsx in the checkout, so it works from any directory; --tls: Consul's CA and client certificate).
 */
function echoCommand(e: {
  id: string;
  port: number;
  consulAddress: string;
  tokenFile: string;
  tlsEnv: Record<string, string> | undefined;
}): string {
  const tlsEnv = Object.entries(e.tlsEnv ?? {})
    .filter(([k]) => k.startsWith('CONSUL_'))
    .map(([k, v]) => ` ${k}=${sh(v)}`)
    .join('');
  const root = join(__dirname, '..');
  return `CONSUL_HTTP_TOKEN=$(cat ${sh(e.tokenFile)})${tlsEnv} npm --prefix ${sh(root)} exec -- tsx ${sh(join(root, 'greeter-service', 'echo-main.ts'))} --id ${e.id} --port ${e.port} --consul-addr ${e.consulAddress}`;
}

/** "✖ greeter-1 (pid 42) was killed by SIGKILL" */
function describeWorkloadDeath(e: UnexpectedExit): string {
  return `✖ ${e.name.replace(/^(greeter|echo) /, '')} (pid ${e.pid ?? '?'}) ${e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`}`;
}

/**
 * Makes the state dir ours: refuses one a running stack holds (its `.owner` is alive), removes the
 * secrets a killed run left in it, and returns a function that names a secret file in it, removed
 * on every exit of ours (and by the watchdog after a SIGKILL).
 */
function claimStateDir(dir: string): (name: string) => string {
  mkdirSync(dir, { recursive: true });
  const ownerFile = join(dir, '.owner');
  let owner = '';
  try {
    owner = readFileSync(ownerFile, 'utf8');
  } catch {
    // first start here
  }
  if (owner && ownerAlive(owner))
    throw new Error(`another local stack (pid ${owner.split(':')[0]}) uses ${dir}; stop it or pick another --state-dir`);
  for (const f of STATE_SECRETS) rmSync(join(dir, f), { force: true });
  writeFileSync(ownerFile, `${ownerTag()}\n`, { mode: 0o600 });
  ownPath(ownerFile);
  return (name) => {
    const path = join(dir, name);
    ownPath(path);
    return path;
  };
}
/** Files of the state dir a run writes and removes: those with a token or key, and stack.env (paths and addresses). */
const STATE_SECRETS = [
  'management-token',
  'health-sync.env',
  'registry-api-key',
  'greeter-backend-token',
  'echo-backend-token',
  STACK_STATE_FILE,
];

/** KEY=value lines as variables. */
function envFileVars(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** Which source the gateway discovers through, and commands that show what that source holds. */
function discoveryBanner(source: Source, fallback: Source[], dnsAddress: string | undefined, motoEndpoint: string, npm: string): string {
  const lines = [
    `${source}${fallback.length ? `, falling back to ${fallback.join(', then ')} while it cannot answer` : ''} (/status names the source that served: discoverySource, discovery[].servedBy)`,
  ];
  if (dnsAddress) {
    const [host, port] = dnsAddress.split(':');
    lines.push(
      `Consul DNS through CoreDNS at ${dnsAddress}:`,
      `  node -e "const r=new (require('dns').promises.Resolver)();r.setServers(['${host}:${port}']);r.resolveSrv('greeter.service.consul').then((a)=>console.log(a))"`,
    );
  }
  if ([source, ...fallback].includes('cloudmap')) {
    lines.push(
      `Cloud Map mirror (moto ${motoEndpoint}, namespace ${NAMESPACE}):`,
      `  ${npm} aws -- servicediscovery discover-instances --namespace-name ${NAMESPACE} --service-name greeter --query 'Instances[].Attributes'`,
    );
  }
  return lines.join('\n              ');
}

/**
 * Consul's and the Greeters' certificates for --tls, in private temp dirs removed on every exit path
 * (they hold private keys); `env` is what the stack's processes read them from.
 */
function makeTlsFiles() {
  const consul = createConsulTlsFiles();
  let greeter: GreeterTlsFiles;
  try {
    greeter = createGreeterTlsFiles('greeter.service.consul');
  } catch (err) {
    consul.remove();
    throw err;
  }
  // The CAs' keys signed what the stack needs; nothing may sign more (the dirs hold the other keys
  // only as long as the stack runs).
  rmSync(consul.caKeyFile, { force: true });
  rmSync(greeter.caKeyFile, { force: true });
  process.on('exit', () => {
    consul.remove();
    greeter.remove();
  });
  const env = {
    CONSUL_CACERT: consul.caFile,
    CONSUL_CLIENT_CERT: consul.clientCertFile,
    CONSUL_CLIENT_KEY: consul.clientKeyFile,
    GREETER_CACERT: greeter.caFile,
  };
  return { consul, greeter, env };
}

let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('\n• stopping…');
  await stopAll(5_000);
  console.log('• stopped');
  process.exit(code);
}
// Ctrl-C, SIGTERM, SIGHUP, or our parent gone (`kill <pid of npm start>` ends npm without passing
// the signal on): stop everything. A closed terminal or pipe must not turn the goodbye into a crash.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
onTermination((reason) => {
  if (!reason.startsWith('SIGINT')) console.log(`\n• ${reason}`);
  void shutdown(0);
});

main().catch((err: unknown) => {
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  void shutdown(1);
});
