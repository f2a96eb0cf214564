/**
 * CLI entry for one Echo instance (a sibling of main.ts): serve echo.v1.Echo, register in Consul under
 * its own service name, print READY, and on SIGTERM/SIGINT leave Consul before draining.
 */
import { parseArgs } from 'node:util';
import { parseConsulAddress } from '../lib/consul/consul-address';
import { consulTlsConfigured } from '../lib/config/environment';
import { startConnectNative } from './connect-native';
import { greeterConsulApi, registerGreeter, type GreeterRegistration } from './consul-registration';
import { startEchoServer } from './echo-service';

const USAGE = `usage: node --import tsx greeter-service/echo-main.ts [options]
  --host <addr>            bind address (default 127.0.0.1)
  --port <n>               port, 0 = any free port (default 0)
  --id <id>                instance id (default echo-<pid>)
  --service <name>         Consul service name (default echo)
  --consul-addr <addr>     host:port or http(s)://host:port (default $CONSUL_HTTP_ADDR or 127.0.0.1:8500)
  --check-interval <dur>   Consul gRPC check interval (default 1s)
  --fail-rate <0..1>       share of echo calls answered UNAVAILABLE (default 0)
  --connect                serve Connect-native (mTLS with the local agent's leaf, calls authorized by intentions)
  --no-register            do not register in Consul`;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      id: { type: 'string' },
      service: { type: 'string', default: 'echo' },
      'consul-addr': { type: 'string', default: process.env.CONSUL_HTTP_ADDR || '127.0.0.1:8500' },
      'check-interval': { type: 'string', default: '1s' },
      'fail-rate': { type: 'string', default: '0' },
      connect: { type: 'boolean', default: false },
      'no-register': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --port "${values.port}"`);
  for (const v of [values.id, values.service]) if (v !== undefined && !NAME_RE.test(v)) throw new Error(`invalid name "${v}"`);
  const failRate = Number(values['fail-rate']);
  if (!(failRate >= 0 && failRate <= 1)) throw new Error(`invalid --fail-rate "${values['fail-rate']}"`);
  const agent = parseConsulAddress(values['consul-addr'], { tls: consulTlsConfigured() });
  const id = values.id ?? `echo-pid${process.pid}`;
  const connect = values.connect
    ? await startConnectNative(greeterConsulApi(agent), values.service, values.service, {
        debug: () => undefined,
        info: (m, f) => log('info', m, f),
        warn: (m, f) => log('warn', m, f),
        error: (m, f) => log('error', m, f),
      })
    : undefined;
  const server = await startEchoServer({
    host: values.host,
    port,
    instanceId: id,
    failRate,
    ...(connect ? { credentials: connect.credentials, authorize: (call) => connect.authorize(call) } : {}),
  });
  let registration: Promise<GreeterRegistration | undefined> = Promise.resolve(undefined);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.setServing(false);
    const reg = await registration.catch(() => undefined);
    await reg?.deregister(2_000).catch((err: unknown) => log('warn', String(err)));
    connect?.stop();
    await server.shutdown(5_000);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  if (!values['no-register']) {
    const address = values.host === '0.0.0.0' || values.host === '::' ? '127.0.0.1' : values.host;
    registration = registerGreeter({
      agent,
      service: values.service,
      instanceId: id,
      address,
      port: server.port,
      checkInterval: values['check-interval'],
      connectNative: values.connect,
    });
    await registration;
  }
  process.stdout.write(`READY ${JSON.stringify({ id, port: server.port, service: values.service })}\n`);
}

main().catch((err: unknown) => {
  log('error', 'echo failed to start', { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
