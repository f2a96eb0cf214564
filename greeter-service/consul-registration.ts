/**
 * Registers a Greeter instance with the local Consul agent (HTTP API via the
 * `consul` package) and removes it again on shutdown.
 *
 * The ACL token is read only from CONSUL_HTTP_TOKEN and never appears in
 * errors thrown from here: only status codes and Consul's short messages do.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Consul from 'consul';
import type { ConsulAddress } from '../lib/consul/consul-address';
import { hostPort } from './server';

export interface RegisterGreeterOptions {
  agent: ConsulAddress;
  /** Consul service name, e.g. 'greeter'. */
  service: string;
  instanceId: string;
  /** Address Consul (and clients) should dial; must not be a wildcard. */
  address: string;
  port: number;
  tags?: string[];
  /** Defaults to the project's package.json version. */
  version?: string;
  /** Consul duration for the gRPC health check, e.g. '1s'. */
  checkInterval?: string;
  /** Upper bound for the register call, in ms. */
  timeoutMs?: number;
}

export interface GreeterRegistration {
  readonly serviceId: string;
  /** Removes the instance from Consul; rejects on failure or after timeoutMs. */
  deregister(timeoutMs?: number): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 3000;

/** Short, token-free description of a Consul client error for logs and rethrows. */
export function describeConsulError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // papi's ResponseError carries the whole HTTP response (request headers included), so
  // read only the status code rather than ever serialising the error object.
  const status: unknown = (err as Error & { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? `HTTP ${status}: ${err.message}` : err.message;
}

function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(path.resolve(__dirname, '../package.json'), 'utf8'));
    const version = typeof pkg === 'object' && pkg !== null && 'version' in pkg ? pkg.version : undefined;
    return typeof version === 'string' ? version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function createClient(agent: ConsulAddress): Consul {
  const token = process.env.CONSUL_HTTP_TOKEN?.trim() || undefined;
  return new Consul({ host: agent.host, port: agent.port, secure: agent.secure, defaults: { token } });
}

/** Registers the instance with a gRPC health check and returns a handle to deregister it. */
export async function registerGreeter(opts: RegisterGreeterOptions): Promise<GreeterRegistration> {
  const consul = createClient(opts.agent);
  const serviceId = opts.instanceId;
  // node-consul honours a per-call `timeout` (ms) that its typings omit, so the options are
  // built as a variable (no excess-property check) instead of an inline literal.
  const registration = {
    name: opts.service,
    id: serviceId,
    address: opts.address,
    port: opts.port,
    tags: opts.tags ?? [],
    meta: { instance: serviceId, version: opts.version ?? packageVersion() },
    check: {
      name: `gRPC health of ${serviceId}`,
      grpc: hostPort(opts.address, opts.port),
      grpcusetls: false,
      interval: opts.checkInterval ?? '1s',
      timeout: '1s',
      // Lets Consul clean up after an instance that died without deregistering.
      deregistercriticalserviceafter: '1m',
    },
    timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  };
  try {
    await consul.agent.service.register(registration);
  } catch (err) {
    consul.destroy();
    // The original error holds the HTTP request, token header included, so it is not chained.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`Consul registration of ${serviceId} failed: ${describeConsulError(err)}`);
  }

  let released = false;
  return {
    serviceId,
    async deregister(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
      if (released) return;
      const request = { id: serviceId, timeout: timeoutMs };
      try {
        await consul.agent.service.deregister(request);
        released = true;
      } catch (err) {
        // eslint-disable-next-line preserve-caught-error -- see register above: no token-bearing cause
        throw new Error(`Consul deregistration of ${serviceId} failed: ${describeConsulError(err)}`);
      } finally {
        // The client keeps a keep-alive agent that would otherwise hold the event loop open.
        consul.destroy();
      }
    },
  };
}
