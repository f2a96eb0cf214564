/**
 * What lives across warm invocations of a gateway function (greet, status):
 * the shared function runtime (logger, secrets, Consul client, config store,
 * environment lease) plus the discovery watches and the gRPC channels that
 * resolve through them. functions/greet.ts and functions/status.ts each hold
 * one in their runtime slot and pass it to the use case.
 */
import { readDiscoveryEnvironment } from '../config/environment';
import type { ConsulApi } from '../consul/consul-api';
import { queryKey, type ServiceQuery } from '../discovery/service-query';
import type { MethodCallPolicy } from '../grpc/method-call-policy';
import type { Log } from '../log/logger';
import type { FunctionMetrics } from '../metrics/function-metrics';
import type { ColdStartTrace } from '../runtime/cold-start-trace';
import { createFunctionRuntime, type FunctionRuntime } from '../runtime/function-runtime';
import { createGatewayCalls, type GatewayCalls } from '../runtime/gateway-calls';
import { createRuntimeMetrics } from '../runtime/runtime-metrics';
import { GATEWAY_KEYS, type GatewayConfig } from './gateway-config';
import { FailoverLog } from './failover-log';
import { SAY_HELLO, SAY_HELLO_HEDGED } from './say-hello';

/** Everything a gateway invocation reuses. */
export interface GatewayRuntime extends FunctionRuntime<typeof GATEWAY_KEYS>, Omit<GatewayCalls, 'close'> {
  /** helloworld.Greeter's call policy: observed latencies and the hedging / ejection config its channels follow. */
  callPolicy: MethodCallPolicy;
  /** Greet latency, attempts, instances discovered, Consul requests (EMF, buffered). */
  metrics: FunctionMetrics;
  /** The throttled "failed over to another datacenter" warning of this environment. */
  failoverLog: FailoverLog;
  /**
   * `begin`, and on a cold start discovery of `queryOf(defaults)` alongside the config read: kept when the
   * config read gives the same query, stopped when it does not (the use case then discovers its own).
   * With `channelOf`, the Greeter channel to that target (plaintext only) starts connecting alongside too, so
   * the first connection overlaps the config read; closed when the config names another target.
   */
  beginDiscovering(
    queryOf: (cfg: GatewayConfig) => ServiceQuery,
    opts?: { leaseInParallel?: boolean; channelOf?: (cfg: GatewayConfig) => string | undefined },
  ): ReturnType<FunctionRuntime<typeof GATEWAY_KEYS>['begin']>;
}

/** Builds the gateway runtime from the environment (`deps` replace the Consul client and the cold-start trace, for tests); throws ConfigError on a bad one. */
export function createGatewayRuntime(log: Log, deps: { consul?: ConsulApi; trace?: ColdStartTrace } = {}): GatewayRuntime {
  // Read first: a bad discovery setting is a ConfigError before anything is built.
  const discoveryEnv = readDiscoveryEnvironment();
  const base = createFunctionRuntime(GATEWAY_KEYS, log, undefined, deps);
  const calls = createGatewayCalls({ consul: base.consul, secrets: base.secrets, values: () => base.config.values(), discoveryEnv }, log);
  const { watches, channels, discovery } = calls;
  const greeter = SAY_HELLO.service;
  return {
    ...base,
    ...calls,
    callPolicy: channels.policy(greeter, SAY_HELLO_HEDGED),
    metrics: createRuntimeMetrics({ ...base, discovery: discovery.fallback }),
    failoverLog: new FailoverLog(log),
    async beginDiscovering(queryOf, { channelOf, ...opts } = {}) {
      let guess: ServiceQuery | undefined;
      let channel: string | undefined;
      const loaded = await base.begin({
        ...opts,
        beforeConfig: () => {
          const defaults = base.config.values();
          guess = queryOf(defaults);
          // A failover query starts more watches than a guess should; only a single datacenter is guessed.
          if (guess.failover?.length) guess = undefined;
          else watches.get(guess);
          channel = guess && channelOf?.(defaults);
          // grpc-js channels connect on first use; asking for the state with tryToConnect starts it now.
          if (channel) channels.get(greeter, channel, defaults.channelMaxIdleMs).getChannel().getConnectivityState(true);
        },
      });
      if (guess) {
        const { failover: _failover, ...local } = queryOf(loaded.values);
        if (queryKey(local) !== queryKey(guess)) watches.discard(guess);
      }
      if (channel && channelOf?.(loaded.values) !== channel) channels.discard(greeter, channel);
      return loaded;
    },
    close() {
      calls.close();
      base.close();
    },
  };
}
