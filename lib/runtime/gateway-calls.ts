/**
 * What a function that calls gRPC backends through discovery (greet and status, rpc) keeps across warm
 * invocations beside the shared base: the discovery source (DISCOVERY_SOURCE, with DISCOVERY_FALLBACK),
 * one watch per query, the channels with a call policy per gRPC service, the Connect certificates of
 * each identity presented, and the backends' CA for TLS. Each use case's runtime adds its own parts.
 */
import { ConnectCertificates } from '../connect/connect-certificates';
import { loadGreeterCa } from '../config/backend-ca';
import type { DiscoveryEnvironment } from '../config/environment';
import type { SecretResolver } from '../config/secrets';
import type { ConsulApi } from '../consul/consul-api';
import { ServiceWatchRegistry } from '../discovery/service-watch-registry';
import { ChannelPool } from '../grpc/channel-pool';
import type { Log } from '../log/logger';
import { createGatewayDiscovery, type GatewayDiscovery } from './gateway-discovery';
import { callPolicySettings, watchSettings, type CallConfig } from './gateway-keys';

/** The state calls share within one execution environment. */
export interface GatewayCalls {
  /** The discovery source the watches read, and which one served each query. */
  discovery: GatewayDiscovery;
  watches: ServiceWatchRegistry;
  /** One channel per gRPC service and target, with that service's call policy. */
  channels: ChannelPool;
  /** The Connect certificates of `identity` (leaf and roots), watched in the background from first use on. */
  connectCertificates(identity: string): ConnectCertificates;
  /** Every Connect identity watched so far, for /status. */
  connectIdentities(): ConnectCertificates[];
  /** The CA of backends reached over TLS (GREETER_CACERT), read once per environment (a failed read is retried next time). */
  backendCa(): Promise<string | undefined>;
  /** Stops the watches, closes the channels and the discovery clients. */
  close(): void;
}

/** Builds the shared call state over `consul`; `values` is read before each poll and policy decision, so a config refresh applies at once. */
export function createGatewayCalls(
  deps: { consul: ConsulApi; secrets: SecretResolver; values: () => CallConfig; discoveryEnv: DiscoveryEnvironment },
  log: Log,
): GatewayCalls {
  const discovery = createGatewayDiscovery(deps.discoveryEnv, deps.consul, log);
  const watches = new ServiceWatchRegistry(discovery.source, () => watchSettings(deps.values()), log);
  const channels = new ChannelPool(watches, () => callPolicySettings(deps.values()));
  const identities = new Map<string, ConnectCertificates>();
  let ca: Promise<string | undefined> | undefined;
  return {
    discovery,
    watches,
    channels,
    connectCertificates(identity) {
      let certs = identities.get(identity);
      if (!certs) identities.set(identity, (certs = new ConnectCertificates(deps.consul, identity, log)));
      certs.start();
      return certs;
    },
    connectIdentities: () => [...identities.values()],
    backendCa() {
      ca ??= loadGreeterCa(deps.secrets).catch((err: unknown) => {
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
      channels.closeAll();
    },
  };
}
