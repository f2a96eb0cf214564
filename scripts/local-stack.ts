/**
 * `npm start`: the whole local stack on loopback, stopped cleanly with Ctrl-C.
 * Consul dev agent (ACLs on, UI) → default config seeded into K/V → two Greeter
 * backends → serverless-offline with the greet and status functions.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { provisionToken } from '../lib/consul/acl-admin';
import { createConsulApi } from '../lib/consul/consul-api';
import { startConsulAgent } from './stack/consul-agent';
import { startGreeter } from './stack/greeters';
import { startOffline } from './stack/offline';
import { assertPortFree, stopAll } from './stack/processes';
import { seedDefaultConfig } from './stack/seed-config';

const HELP = `Usage: npm start -- [--consul-port 8500] [--http-port 3000] [--lambda-port 3002] [--greeter-ports 50051,50052] [--verbose]
Environment overrides: CONSUL_PORT, HTTP_PORT, OFFLINE_LAMBDA_PORT, GREETER_PORTS.`;

function options() {
  const { values } = parseArgs({
    options: {
      'consul-port': { type: 'string', default: process.env.CONSUL_PORT ?? '8500' },
      'http-port': { type: 'string', default: process.env.HTTP_PORT ?? '3000' },
      'lambda-port': { type: 'string', default: process.env.OFFLINE_LAMBDA_PORT ?? '3002' },
      'greeter-ports': { type: 'string', default: process.env.GREETER_PORTS ?? '50051,50052' },
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
    verbose: values.verbose,
  };
}

const PREFIX = 'config/greeter-gateway/local/';

async function main(): Promise<void> {
  const o = options();
  const echo = (tag: string) => (o.verbose ? (line: string) => console.log(`[${tag}] ${line}`) : undefined);
  await assertPortFree(o.consulPort, 'Consul HTTP, --consul-port');
  await assertPortFree(o.httpPort, 'HTTP API, --http-port');
  await assertPortFree(o.lambdaPort, 'offline Lambda API, --lambda-port');
  for (const p of o.greeterPorts) await assertPortFree(p, 'Greeter backend, --greeter-ports');

  console.log('• starting Consul (ACLs on, default deny)…');
  const consul = await startConsulAgent({ httpPort: o.consulPort, echo: echo('consul') });
  const stateDir = join(__dirname, '..', '.local-stack');
  mkdirSync(stateDir, { recursive: true });
  const tokenFile = join(stateDir, 'management-token');
  // The UI needs a token to log in; keep it in a private file instead of printing it.
  writeFileSync(tokenFile, `${consul.managementToken}\n`, { mode: 0o600 });

  const params = { configPrefix: PREFIX, greeterService: 'greeter', leaseService: 'greeter-gateway-lambda' };
  const gatewayToken = await provisionToken(consul.address, consul.managementToken, ['greeter-gateway', 'greeter-gateway-lease'], params);
  const backendToken = await provisionToken(consul.address, consul.managementToken, 'greeter-backend', params);
  const admin = createConsulApi({ address: consul.address, token: consul.managementToken });
  const seeded = await seedDefaultConfig(admin, PREFIX);
  admin.destroy();
  console.log(`• config: ${seeded.length} default key(s) seeded under ${PREFIX}`);

  for (const [i, port] of o.greeterPorts.entries()) {
    const g = await startGreeter({ consulAddress: consul.address, token: backendToken, id: `greeter-${i + 1}`, port, echo: echo(`greeter-${i + 1}`) });
    console.log(`• Greeter ${g.id} on 127.0.0.1:${g.port}, registered in Consul`);
  }

  console.log('• starting serverless-offline…');
  const offline = await startOffline({ httpPort: o.httpPort, lambdaPort: o.lambdaPort, consulAddress: consul.address, gatewayToken, echo: echo('offline') });

  console.log(`
READY  local stack is up (Ctrl-C stops everything)
  Consul UI   http://${consul.address}/ui  (log in with the token in ${tokenFile})
  HTTP API    ${offline.baseUrl}

  curl ${offline.baseUrl}/hello/Ada
  curl -X POST ${offline.baseUrl}/greet -H 'content-type: application/json' -d '{"name":"Grace"}'
  curl ${offline.baseUrl}/status
`);
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
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

main().catch((err: unknown) => {
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  void shutdown(1);
});
