/**
 * CLI entry for one Greeter instance: serve, register in Consul, print READY,
 * and on SIGTERM/SIGINT leave Consul before draining so callers move away first.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { parseConsulAddress } from '../lib/consul/consul-address';
import { consulTlsConfigured } from '../lib/config/environment';
import { startConnectNative } from './connect-native';
import { greeterConsulApi, type GreeterRegistration, registerGreeter } from './consul-registration';
import type { CallTrace } from './call-trace';
import { type GreeterServerHandle, startGreeterServer } from './server';

const USAGE = `usage: node --import tsx greeter-service/main.ts [options]
  --host <addr>            bind address (default 127.0.0.1)
  --port <n>               port, 0 = any free port (default 0)
  --id <id>                instance id (default greeter-<port>)
  --service <name>         Consul service name (default greeter)
  --tags <a,b>             comma-separated Consul tags
  --consul-addr <addr>     host:port or http(s)://host:port (default $CONSUL_HTTP_ADDR or 127.0.0.1:8500)
  --check-interval <dur>   Consul gRPC check interval (default 1s)
  --latency-ms <n>         artificial delay per call (default 0)
  --fail-rate <0..1>       share of calls failing (default 0)
  --fail-code <NAME>       gRPC status of those failures (default UNAVAILABLE)
  --connect                serve Connect-native: mTLS with the leaf certificate from the local agent,
                           client certificates required, every call authorized by Consul intentions
  --connect-identity <s>   service identity whose leaf to present (default: --service; tests only)
  --tls-cert <file>        serve gRPC over TLS with this PEM certificate (chain) ...
  --tls-key <file>         ... and its PEM private key (outside the mesh; callers use greeterTransport=tls)
  --tls-server-name <n>    the name the certificate carries, for the agent's check (default <service>.service.consul)
  --check-tls-verify       the agent's check verifies the certificate too (needs enable_agent_tls_for_checks
                           and the CA in the agent's TLS config; default: the check only speaks TLS)
  --no-register            do not register in Consul
  -h, --help               show this help
Each call that carries a trace (traceparent, x-amzn-trace-id) is logged with its trace_id (and xray_trace_id),
unless GREETER_LOG_TRACED_CALLS=0; a call with metadata x-reflect-trace: 1 gets x-trace-id in its response headers.`;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const DURATION_RE = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const DEREGISTER_TIMEOUT_MS = 2000;
const DRAIN_MS = 5000;

/** Writes one JSON log line to stderr (stdout is reserved for the READY line). */
function log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
}

class UsageError extends Error {}

function num(flag: string, raw: string | undefined, fallback: number, ok: (n: number) => boolean): number {
  if (raw === undefined) return fallback;
  const n = raw.trim() === '' ? NaN : Number(raw);
  if (!ok(n)) throw new UsageError(`invalid --${flag} "${raw}"`);
  return n;
}

function parseCli(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      id: { type: 'string' },
      service: { type: 'string', default: 'greeter' },
      tags: { type: 'string', default: '' },
      'consul-addr': { type: 'string', default: process.env.CONSUL_HTTP_ADDR || '127.0.0.1:8500' },
      'check-interval': { type: 'string', default: '1s' },
      'latency-ms': { type: 'string' },
      'fail-rate': { type: 'string' },
      'fail-code': { type: 'string', default: 'UNAVAILABLE' },
      'no-register': { type: 'boolean', default: false },
      connect: { type: 'boolean', default: false },
      'connect-identity': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-server-name': { type: 'string' },
      'check-tls-verify': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const port = num('port', values.port, 0, (n) => Number.isInteger(n) && n >= 0 && n <= 65535);
  const latencyMs = num('latency-ms', values['latency-ms'], 0, (n) => Number.isFinite(n) && n >= 0);
  const failRate = num('fail-rate', values['fail-rate'], 0, (n) => n >= 0 && n <= 1);
  if (values.host.trim() === '') throw new UsageError('--host must not be empty');
  for (const [flag, v] of [
    ['id', values.id],
    ['service', values.service],
    ['connect-identity', values['connect-identity']],
    ['tls-server-name', values['tls-server-name']],
  ] as const) {
    if (v !== undefined && !NAME_RE.test(v)) throw new UsageError(`invalid --${flag} "${v}" (use letters, digits, . _ -)`);
  }
  if (!DURATION_RE.test(values['check-interval'])) {
    throw new UsageError(`invalid --check-interval "${values['check-interval']}" (e.g. 1s, 500ms)`);
  }
  let agent;
  try {
    agent = parseConsulAddress(values['consul-addr'], { tls: consulTlsConfigured() });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) throw new UsageError('--tls-cert and --tls-key go together');
  if (values['tls-cert'] && values.connect)
    throw new UsageError('--tls-cert and --connect exclude each other (Connect-native serves its own leaf)');
  const tags = values.tags
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  const failCode = grpc.status[values['fail-code'] as keyof typeof grpc.status];
  if (typeof failCode !== 'number' || failCode === grpc.status.OK) throw new UsageError(`invalid --fail-code "${values['fail-code']}"`);
  return { ...values, port, latencyMs, failRate, failCode, tags, agent };
}

/** TLS server credentials from PEM files (no client certificates asked for: callers outside the mesh authenticate otherwise). */
function tlsServerCredentials(certFile: string, keyFile: string): grpc.ServerCredentials {
  const read = (flag: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new UsageError(`--${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
  };
  return grpc.ServerCredentials.createSsl(null, [{ cert_chain: read('tls-cert', certFile), private_key: read('tls-key', keyFile) }], false);
}

/** Wildcard binds are not dialable, so Consul gets loopback for them instead. */
function advertiseAddress(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '[::]' ? '127.0.0.1' : host;
}

async function main(): Promise<void> {
  let cli: ReturnType<typeof parseCli>;
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`greeter: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    process.exit(2);
  }
  if (cli.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }

  // With --port 0 the real port is unknown until bind, so the pid keeps the default id unique.
  const id = cli.id ?? `greeter-${cli.port === 0 ? `pid${process.pid}` : cli.port}`;
  const connect = cli.connect
    ? await startConnectNative(greeterConsulApi(cli.agent), cli.service, cli['connect-identity'] ?? cli.service, {
        debug: () => undefined,
        info: (m, f) => log('info', m, f),
        warn: (m, f) => log('warn', m, f),
        error: (m, f) => log('error', m, f),
      })
    : undefined;
  const tls = cli['tls-cert'] && cli['tls-key'] ? tlsServerCredentials(cli['tls-cert'], cli['tls-key']) : undefined;
  const server: GreeterServerHandle = await startGreeterServer({
    host: cli.host,
    port: cli.port,
    instanceId: id,
    latencyMs: cli.latencyMs,
    failRate: cli.failRate,
    failCode: cli.failCode,
    ...(connect ? { credentials: connect.credentials, authorize: (call) => connect.authorize(call) } : {}),
    ...(tls ? { credentials: tls } : {}),
    // Named as the gateway's Powertools lines name them, so one grep finds both sides of the hop.
    // GREETER_LOG_TRACED_CALLS=0 silences it (benchmarks whose harness reads the Greeter's stderr in-process).
    ...(process.env.GREETER_LOG_TRACED_CALLS === '0'
      ? {}
      : {
          onTracedCall: (t: CallTrace) =>
            log('info', 'SayHello', {
              id,
              ...(t.traceId ? { trace_id: t.traceId } : {}),
              ...(t.parentId ? { parent_id: t.parentId } : {}),
              ...(t.xrayTraceId ? { xray_trace_id: t.xrayTraceId } : {}),
            }),
        }),
  });
  log('info', 'greeter listening', { id, host: cli.host, port: server.port, ...(connect ? { connect: connect.serviceUri } : {}) });

  // Kept as a promise so a signal during startup still deregisters once registration lands.
  let registration: Promise<GreeterRegistration | undefined> = Promise.resolve(undefined);
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return log('warn', 'shutdown already in progress', { signal });
    stopping = true;
    log('info', 'shutting down', { signal, inFlight: server.inFlight() });
    server.setServing(false);
    // Leave Consul first so new callers stop picking this instance while it drains.
    const reg = await registration.catch(() => undefined);
    await reg?.deregister(DEREGISTER_TIMEOUT_MS).then(
      () => log('info', 'deregistered from Consul', { id }),
      (err: unknown) => log('warn', err instanceof Error ? err.message : String(err)),
    );
    await server.shutdown(DRAIN_MS);
    log('info', 'stopped', { id });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  if (!cli['no-register']) {
    registration = registerGreeter({
      agent: cli.agent,
      service: cli.service,
      instanceId: id,
      address: advertiseAddress(cli.host),
      port: server.port,
      tags: cli.tags,
      checkInterval: cli['check-interval'],
      connectNative: cli.connect,
      ...(tls ? { tls: { serverName: cli['tls-server-name'] ?? `${cli.service}.service.consul`, verify: cli['check-tls-verify'] } } : {}),
    });
    try {
      await registration;
    } catch (err) {
      log('error', err instanceof Error ? err.message : String(err));
      if (!stopping) {
        await server.shutdown(0);
        process.exit(1);
      }
      return;
    }
    log('info', 'registered in Consul', { id, service: cli.service, consul: `${cli.agent.host}:${cli.agent.port}` });
  }
  if (stopping) return; // a signal arrived while registering; stop() owns the exit now
  process.stdout.write(`READY ${JSON.stringify({ id, port: server.port, service: cli.service })}\n`);
}

main().catch((err: unknown) => {
  log('error', 'greeter failed to start', { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
