/**
 * Registers a Greeter instance with the local Consul agent, with an agent-run
 * gRPC health check, and removes it again on shutdown. It goes through the
 * project's ConsulApi like every other Consul call, so timeouts, error
 * mapping and token hygiene are the same: the ACL token comes only from
 * CONSUL_HTTP_TOKEN and never appears in an error.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readConsulTlsFiles } from '../lib/config/environment';
import { deregisterService, registerGrpcService } from '../lib/consul/agent';
import type { ConsulAddress } from '../lib/consul/consul-address';
import { createConsulApi, type ConsulApi } from '../lib/consul/consul-api';
import { hostPort } from './server';

/** What to register. */
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
  /** Register as Connect-native (`Connect.Native = true`, TCP check instead of the gRPC one). */
  connectNative?: boolean;
  /** The instance serves TLS: its check speaks TLS, verifying this name only when `verify` is set. */
  tls?: { serverName: string; verify: boolean };
}

/** A registered instance. */
export interface GreeterRegistration {
  readonly serviceId: string;
  /** Removes the instance from Consul; rejects on failure or after timeoutMs. */
  deregister(timeoutMs?: number): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 3000;

function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(path.resolve(__dirname, '../package.json'), 'utf8'));
    const version = typeof pkg === 'object' && pkg !== null && 'version' in pkg ? pkg.version : undefined;
    return typeof version === 'string' ? version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** A ConsulApi for the agent at `agent` with the token in CONSUL_HTTP_TOKEN. */
export function greeterConsulApi(agent: ConsulAddress): ConsulApi {
  const { host, port, secure } = agent;
  const address = `${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  // An https agent is verified against CONSUL_CACERT (and shown CONSUL_CLIENT_CERT/KEY), as Consul's CLI does.
  return createConsulApi({
    address,
    token: process.env.CONSUL_HTTP_TOKEN?.trim() || undefined,
    tls: secure ? readConsulTlsFiles() : undefined,
  });
}

/** Registers the instance with a gRPC health check and returns a handle to deregister it. */
export async function registerGreeter(opts: RegisterGreeterOptions): Promise<GreeterRegistration> {
  const consul = greeterConsulApi(opts.agent);
  const serviceId = opts.instanceId;
  try {
    await registerGrpcService(
      consul,
      {
        id: serviceId,
        name: opts.service,
        address: opts.address,
        port: opts.port,
        tags: opts.tags ?? [],
        meta: { instance: serviceId, version: opts.version ?? packageVersion() },
        grpc: hostPort(opts.address, opts.port),
        interval: opts.checkInterval ?? '1s',
        timeout: '1s',
        // Lets Consul clean up after an instance that died without deregistering.
        deregisterCriticalServiceAfter: '1m',
        ...(opts.connectNative ? { connectNative: true } : {}),
        ...(opts.tls ? { tls: opts.tls } : {}),
      },
      { timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS },
    );
  } catch (err) {
    consul.destroy();
    throw err;
  }

  let released = false;
  return {
    serviceId,
    async deregister(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
      if (released) return;
      try {
        await deregisterService(consul, serviceId, { timeoutMs });
        released = true;
      } finally {
        // The client keeps a keep-alive agent that would otherwise hold the event loop open.
        consul.destroy();
      }
    },
  };
}
