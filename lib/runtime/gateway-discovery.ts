/**
 * Builds the discovery source a gateway's watches read, from its environment (DISCOVERY_SOURCE,
 * DISCOVERY_FALLBACK and what they need): Consul's blocking queries, Consul DNS through a caching
 * resolver, or the Cloud Map mirror, with an ordered fallback while the primary gives no answer.
 * Here, in the runtime layer (every gateway function's, greet's and rpc's, reads it), because the Cloud Map reader (lib/cloudmap) and discovery
 * (lib/discovery) are adapters that may not import each other.
 */
import { createDiscoverInstancesClient, type DiscoverInstancesClient } from '../cloudmap/discover-instances';
import type { DiscoveryEnvironment, DiscoverySourceSetting } from '../config/environment';
import type { ConsulApi } from '../consul/consul-api';
import { cloudMapHealthSource, leastPollIntervalMs } from '../discovery/cloudmap-source';
import { dnsHealthSource, type DnsHealthSource } from '../discovery/dns-source';
import { fallbackHealthSource, type FallbackHealthSource, type FallbackSnapshot } from '../discovery/fallback-source';
import { consulHealthSource, type DiscoverySourceName, type HealthSource } from '../discovery/health-source';
import type { ServiceQuery } from '../discovery/service-query';
import type { Log } from '../log/logger';

/** The fleet the default Cloud Map poll interval is sized for: environments, services each watches, share of the account's quota. */
export const CLOUDMAP_DEFAULT_FLEET = { environments: 2_500, services: 1, quotaShare: 0.5 } as const;

/**
 * Poll interval of the Cloud Map source when CLOUDMAP_POLL_SECONDS is unset: the least one that keeps
 * CLOUDMAP_DEFAULT_FLEET within its share of DiscoverInstances' quota (5 s); a larger fleet sets more.
 */
export const DEFAULT_CLOUDMAP_POLL_MS = leastPollIntervalMs(
  CLOUDMAP_DEFAULT_FLEET.environments,
  CLOUDMAP_DEFAULT_FLEET.services,
  CLOUDMAP_DEFAULT_FLEET.quotaShare,
);

/** The source a gateway discovers through, and what /status and metrics read from it. */
export interface GatewayDiscovery {
  source: HealthSource;
  /** Set when DISCOVERY_FALLBACK names at least one source. */
  fallback?: FallbackHealthSource;
  /** Which source served `query`'s current list (the primary's name without a fallback). */
  servedBy(query: ServiceQuery): DiscoverySourceName | undefined;
  /** What /status shows about the sources. */
  snapshot(): {
    source: DiscoverySourceName;
    fallbacks: DiscoverySourceName[];
    dnsServers?: string[];
    dnsLookups?: number;
    cloudMapCalls?: number;
    fallback?: FallbackSnapshot;
  };
  close(): void;
}

/** Builds the configured sources over `consul`; nothing connects before the first poll. */
export function createGatewayDiscovery(env: DiscoveryEnvironment, consul: ConsulApi, log: Log): GatewayDiscovery {
  let cloudMap: DiscoverInstancesClient | undefined;
  let dns: DnsHealthSource | undefined;
  const build = (name: DiscoverySourceSetting): HealthSource => {
    if (name === 'consul') return consulHealthSource(consul);
    if (name === 'cloudmap') {
      // readDiscoveryEnvironment guarantees the namespace whenever cloudmap is named.
      const cm = env.cloudMap!;
      cloudMap = createDiscoverInstancesClient({ region: cm.region, ...(cm.endpoint ? { endpoint: cm.endpoint } : {}) });
      return cloudMapHealthSource(cloudMap, {
        namespace: cm.namespace,
        pollIntervalMs: cm.pollSeconds !== undefined ? cm.pollSeconds * 1000 : DEFAULT_CLOUDMAP_POLL_MS,
        ...(cm.datacenter ? { datacenter: cm.datacenter } : {}),
        log,
      });
    }
    dns = dnsHealthSource({ servers: env.dnsServers, log });
    return dns;
  };
  const primary = build(env.source);
  const fallback = env.fallbacks.length ? fallbackHealthSource(primary, env.fallbacks.map(build), { log }) : undefined;
  const source = fallback ?? primary;
  return {
    source,
    ...(fallback ? { fallback } : {}),
    servedBy: (query) => (fallback ? fallback.servedBy(query) : primary.name),
    snapshot: () => ({
      source: primary.name,
      fallbacks: [...env.fallbacks],
      ...(dns ? { dnsServers: [...env.dnsServers], dnsLookups: dns.lookups } : {}),
      ...(cloudMap ? { cloudMapCalls: cloudMap.calls } : {}),
      ...(fallback ? { fallback: fallback.snapshot() } : {}),
    }),
    close: () => cloudMap?.close(),
  };
}
