/**
 * A stack for running the functions against real parts, shared by the integration tests and the
 * benches: a Consul dev agent with ACLs (default deny), least-privilege tokens for the functions
 * and the backends, and real Greeter backends. `stop()` stops everything the stack started; the
 * caller calls it from a `finally` or an `after()`, so it runs on failure too.
 */
import { createConsulApi, type ConsulApi } from '../../lib/consul/consul-api';
import { eventually } from '../support/poll-until';
import { startConsulAgent, type ConsulAgent } from './consul-agent';
import { startGreeter, type GreeterBackend, type GreeterOptions } from './greeters';
import { PASSING_WAIT_MS, passingIds } from './passing';
import { putConfig } from './seed-config';
import { stopProcess } from './processes';
import { gatewayTokens } from './tokens';

/** A running stack: Consul, the tokens the functions and backends get, and the Greeters started on it. */
export interface FunctionStack {
  consul: ConsulAgent;
  /** Management-token client for arranging state (never given to functions). */
  admin: ConsulApi;
  prefix: string;
  gatewayToken: string;
  backendToken: string;
  greeters: GreeterBackend[];
  /** Starts a Greeter that registers itself, and resolves once Consul sees it passing. */
  addGreeter(o: Omit<GreeterOptions, 'consulAddress' | 'token'>): Promise<GreeterBackend>;
  /** A backend that serves but does not register itself. */
  addGreeterUnregistered(o: { id: string }): Promise<GreeterBackend>;
  setConfig(values: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

/** Starts Consul with the config under `prefix` and provisions least-privilege tokens for the functions and backends. */
export async function startFunctionStack(prefix = 'config/greeter-gateway/test/'): Promise<FunctionStack> {
  const consul = await startConsulAgent();
  const greeters: GreeterBackend[] = [];
  const admin = createConsulApi({ address: consul.address, token: consul.managementToken });
  try {
    // Both lease modes: a test or bench picks one by config.
    const { gatewayToken, backendToken } = await gatewayTokens(admin, prefix, 'both');
    return {
      consul,
      admin,
      prefix,
      gatewayToken,
      backendToken,
      greeters,
      async addGreeter(o) {
        const g = await startGreeter({ ...o, consulAddress: consul.address, token: backendToken });
        greeters.push(g);
        // A new instance's gRPC check starts critical; wait for its first pass.
        await eventually(
          async () => (await passingIds(admin, o.service ?? 'greeter')).includes(o.id),
          PASSING_WAIT_MS,
          `${o.id} passing in Consul`,
        );
        return g;
      },
      async addGreeterUnregistered(o) {
        const g = await startGreeter({ ...o, register: false, consulAddress: consul.address, token: '' });
        greeters.push(g);
        return g;
      },
      setConfig: (values) => putConfig(admin, prefix, values),
      async stop() {
        await Promise.all(greeters.map((g) => stopProcess(g.process, 'SIGKILL')));
        admin.destroy();
        await consul.stop();
      },
    };
  } catch (err) {
    admin.destroy();
    await consul.stop();
    throw err;
  }
}

/** Points the in-process functions at the stack, as serverless.yml does for a deployed function. */
export function useFunctionEnvironment(stack: FunctionStack, address = stack.consul.address): void {
  process.env.CONSUL_HTTP_ADDR = address;
  process.env.CONSUL_HTTP_TOKEN = stack.gatewayToken;
  process.env.CONFIG_PREFIX = stack.prefix;
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
}
