/** Starts real backend processes registered in Consul: Greeters (greeter-service/main.ts) and Echo (greeter-service/echo-main.ts). */
import { join } from 'node:path';
import { startProcess, waitForLine, type ManagedProcess } from './processes';

const ROOT = join(__dirname, '..', '..');

/** A running Greeter backend. */
export interface GreeterBackend {
  id: string;
  port: number;
  process: ManagedProcess;
}

/** Options of one backend. */
export interface GreeterOptions {
  consulAddress: string;
  /** Token with service:write on the Greeter service; passed through the environment only. */
  token: string;
  id: string;
  port?: number;
  service?: string;
  tags?: string[];
  latencyMs?: number;
  failRate?: number;
  failCode?: string;
  checkInterval?: string;
  /** false: serve only, do not register in Consul (e.g. to register through the registry API). */
  register?: boolean;
  /** Serve Connect-native (mTLS, intentions); the token then needs service:write for its leaf too. */
  connect?: boolean;
  /** Present the leaf of this service instead (tests of a backend with the wrong identity). */
  connectIdentity?: string;
  /** Serve gRPC over TLS with these PEM files (callers use greeterTransport=tls). */
  tls?: { certFile: string; keyFile: string; serverName?: string };
  echo?: (line: string) => void;
}

/** Starts a backend and waits for its READY line (it is registered in Consul by then). */
export async function startGreeter(o: GreeterOptions): Promise<GreeterBackend> {
  const args = [
    '--import',
    'tsx',
    join(ROOT, 'greeter-service', 'main.ts'),
    '--id',
    o.id,
    '--port',
    String(o.port ?? 0),
    '--consul-addr',
    o.consulAddress,
  ];
  if (o.service) args.push('--service', o.service);
  if (o.tags?.length) args.push('--tags', o.tags.join(','));
  if (o.latencyMs) args.push('--latency-ms', String(o.latencyMs));
  if (o.failRate) args.push('--fail-rate', String(o.failRate));
  if (o.failCode) args.push('--fail-code', o.failCode);
  args.push('--check-interval', o.checkInterval ?? '1s');
  if (o.register === false) args.push('--no-register');
  if (o.connect) args.push('--connect');
  if (o.connectIdentity) args.push('--connect-identity', o.connectIdentity);
  if (o.tls)
    args.push(
      '--tls-cert',
      o.tls.certFile,
      '--tls-key',
      o.tls.keyFile,
      ...(o.tls.serverName ? ['--tls-server-name', o.tls.serverName] : []),
    );
  const proc = startProcess(`greeter ${o.id}`, process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, CONSUL_HTTP_TOKEN: o.token },
    echo: o.echo,
  });
  const m = await waitForLine(proc, /^READY (\{.*\})$/, 30_000);
  const ready = JSON.parse(m[1] ?? '{}') as { port: number };
  return { id: o.id, port: ready.port, process: proc };
}

/** Options of one Echo backend (echo.v1.Echo, the generic route's second service). */
export interface EchoOptions {
  consulAddress: string;
  /** Token with service:write on its service (tokens.ts echoBackendToken); passed through the environment only. */
  token: string;
  id: string;
  /** Default: a free port. */
  port?: number;
  /** Consul service name (default echo). */
  service?: string;
  connect?: boolean;
  register?: boolean;
  failRate?: number;
  echo?: (line: string) => void;
}

/** Starts an Echo backend and waits for its READY line (registered in Consul by then, unless `register` is false). */
export async function startEcho(o: EchoOptions): Promise<GreeterBackend> {
  const args = ['--import', 'tsx', join(ROOT, 'greeter-service', 'echo-main.ts'), '--id', o.id, '--consul-addr', o.consulAddress];
  if (o.port) args.push('--port', String(o.port));
  if (o.service) args.push('--service', o.service);
  if (o.connect) args.push('--connect');
  if (o.register === false) args.push('--no-register');
  if (o.failRate) args.push('--fail-rate', String(o.failRate));
  const proc = startProcess(`echo ${o.id}`, process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, CONSUL_HTTP_TOKEN: o.token },
    echo: o.echo,
  });
  const m = await waitForLine(proc, /^READY (\{.*\})$/, 30_000);
  return { id: o.id, port: (JSON.parse(m[1] ?? '{}') as { port: number }).port, process: proc };
}
