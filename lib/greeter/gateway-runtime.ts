/**
 * What lives across warm invocations of a gateway function (greet, status):
 * the shared function runtime (logger, secrets, Consul client, config store,
 * environment lease) plus the discovery watches and the gRPC channels that
 * resolve through them. functions/greet.ts and functions/status.ts each hold
 * one in their runtime slot and pass it to the use case.
 */
import { ConnectCertificates } from '../connect/connect-certificates';
import { readDiscoveryEnvironment } from '../config/environment';
import { queryKey, type ServiceQuery } from '../discovery/service-query';
import { ServiceWatchRegistry } from '../discovery/service-watch-registry';
import { CallPolicy } from '../grpc/call-policy';
import { GreeterClientPool } from '../grpc/greeter-client-pool';
import type { ConsulApi } from '../consul/consul-api';
import type { Log } from '../log/logger';
import type { FunctionMetrics } from '../metrics/function-metrics';
import type { ColdStartTrace } from '../runtime/cold-start-trace';
import { createFunctionRuntime, type FunctionRuntime } from '../runtime/function-runtime';
import { createRuntimeMetrics } from '../runtime/runtime-metrics';
import { GATEWAY_KEYS, type GatewayConfig } from './gateway-config';
import { FailoverLog } from './failover-log';
import { createGatewayDiscovery, type GatewayDiscovery } from './gateway-discovery';
import { loadGreeterCa } from './greeter-ca';

/** Everything a gateway invocation reuses. */
export interface GatewayRuntime extends FunctionRuntime<typeof GATEWAY_KEYS> {
  watches: ServiceWatchRegistry;
  /** The discovery source the watches read (DISCOVERY_SOURCE, with DISCOVERY_FALLBACK), and which one served each query. */
  discovery: GatewayDiscovery;
  /** Observed latencies and the hedging / ejection config the channels follow. */
  callPolicy: CallPolicy;
  clients: GreeterClientPool;
  /** Greet latency, attempts, instances discovered, Consul requests (EMF, buffered). */
  metrics: FunctionMetrics;
  /** The throttled "failed over to another datacenter" warning of this environment. */
  failoverLog: FailoverLog;
  /** The Connect certificates of `identity` (leaf and roots), watched in the background from first use on. */
  connectCertificates(identity: string): ConnectCertificates;
  /** Every Connect identity watched so far, for /status. */
  connectIdentities(): ConnectCertificates[];
  /** The Greeters' CA for greeterTransport=tls, read once per environment (a failed read is retried next time). */
  greeterCa(): Promise<string | undefined>;
  /**
   * `begin`, and on a cold start discovery of `queryOf(defaults)` alongside the config read: kept when the
   * config read gives the same query, stopped when it does not (the use case then discovers its own).
   * With `channelOf`, the channel to that target (plaintext only) starts connecting alongside too, so the
   * first connection overlaps the config read; closed when the config names another target.
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
  const discovery = createGatewayDiscovery(discoveryEnv, base.consul, log);
  // Read before every poll, so a config refresh applies without a restart.
  const watchOptions = () => {
    const v = base.config.values();
    return {
      waitSeconds: v.discoveryWaitSeconds,
      minIntervalMs: v.discoveryMinIntervalMs,
      backoffBaseMs: v.discoveryBackoffBaseMs,
      backoffMaxMs: v.discoveryBackoffMaxMs,
    };
  };
  const watches = new ServiceWatchRegistry(discovery.source, watchOptions, log);
  const callPolicy = new CallPolicy(() => {
    const v = base.config.values();
    return {
      maxAttempts: v.maxAttempts,
      hedgeMinDelayMs: v.hedgeMinDelayMs,
      hedgeMaxDelayMs: v.hedgeMaxDelayMs,
      ejectionFailurePercent: v.ejectionFailurePercent,
      ejectionMinRequests: v.ejectionMinRequests,
      ejectionBaseMs: v.ejectionBaseMs,
    };
  });
  const clients = new GreeterClientPool(watches, Date.now, callPolicy);
  const identities = new Map<string, ConnectCertificates>();
  let ca: Promise<string | undefined> | undefined;
  return {
    ...base,
    watches,
    discovery,
    callPolicy,
    clients,
    metrics: createRuntimeMetrics({ ...base, discovery: discovery.fallback }),
    failoverLog: new FailoverLog(log),
    connectCertificates(identity) {
      let certs = identities.get(identity);
      if (!certs) {
        certs = new ConnectCertificates(base.consul, identity, log);
        identities.set(identity, certs);
      }
      certs.start();
      return certs;
    },
    connectIdentities: () => [...identities.values()],
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
          if (channel) clients.get(channel, defaults.channelMaxIdleMs).getChannel().getConnectivityState(true);
        },
      });
      if (guess) {
        const { failover: _failover, ...local } = queryOf(loaded.values);
        if (queryKey(local) !== queryKey(guess)) watches.discard(guess);
      }
      if (channel && channelOf?.(loaded.values) !== channel) clients.discard(channel);
      return loaded;
    },
    greeterCa() {
      ca ??= loadGreeterCa(base.secrets).catch((err: unknown) => {
        ca = undefined;
        throw err;
      });
      return ca;
    },
    close() {
      for (const c of identities.values()) c.stop();
      identities.clear();
      watches.stopAll();
      discovery.close();
      clients.closeAll();
      base.close();
    },
  };
}
