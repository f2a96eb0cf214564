/**
 * The discovery sources a fleet row runs with, each on real parts: `consul` (blocking queries at
 * a client agent), `dns` (Consul DNS on both client agents behind CoreDNS, the caching forwarder
 * the project builds) and `cloudmap` (the mirror on moto, written with the health-sync job's own
 * plan and apply). Each knows how to make a backend change its environments must see, which
 * environment variables select it, and which extra counters it has.
 */
import { CreateHttpNamespaceCommand, GetOperationCommand, type ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { deregisterService, registerTtlService } from '../../lib/consul/agent';
import type { ConsulApi } from '../../lib/consul/consul-api';
import { applyPlan } from '../../lib/cloudmap/apply';
import { createCloudMapClient } from '../../lib/cloudmap/cloudmap-client';
import { planSync } from '../../lib/cloudmap/plan';
import { readCloudMapState } from '../../lib/cloudmap/read-state';
import type { DesiredInstance } from '../../lib/cloudmap/types';
import { silentLog } from '../../lib/log/logger';
import type { ConsulCluster } from '../../scripts/stack/consul-cluster';
import { startCoreDns, type CoreDns } from '../../scripts/stack/coredns';
import { startMoto, type MotoServer } from '../../scripts/stack/moto';

export const FLEET_SOURCES = ['consul', 'dns', 'cloudmap'] as const;
export type FleetSource = (typeof FLEET_SOURCES)[number];

/** Counters a source has besides Consul's own. */
export interface SourceCounters {
  /** DNS questions CoreDNS answered, and those it forwarded to Consul (cache misses). */
  dnsServed?: number;
  dnsToConsul?: number;
}

/** A source, set up once for all its rows. */
export interface SourceStack {
  name: FleetSource;
  /** Environment variables of the worker processes (DISCOVERY_SOURCE and what it needs). */
  workerEnv(environments: number): Record<string, string>;
  /** The poll interval (Cloud Map) or record TTL (DNS) a change waits out at most, seconds; undefined for blocking queries. */
  refreshSeconds(environments: number): number | undefined;
  /** Makes the change instance present or absent; resolves once the source's own store has it. */
  change(present: boolean): Promise<void>;
  counters(): Promise<SourceCounters>;
  /** The TCP port whose connections from the environments' IP are counted, besides the agent's. */
  sourcePort?: number;
  /** The PID of the source's own server (CoreDNS, moto), for its CPU and memory. */
  serverPid?: number;
  stop(): Promise<void>;
}

/** What every source's setup needs. */
export interface SourceParts {
  cluster: ConsulCluster;
  /** A client of the agent the backends register through (not the environments' agent). */
  backendAgent: ConsulApi;
  /** The Greeter that is always there, and the endpoint of the instance that comes and goes. */
  greeter: { id: string; port: number };
  changePort: number;
  /** Consul's DNS TTL (dns_config), seconds. */
  dnsTtlSeconds: number;
}

const CHANGE_ID = 'g-change';

/** A metrics scrape of a busy server, tried three times; undefined (a figure left out) rather than a failed row. */
async function patiently(read: () => Promise<number>): Promise<number | undefined> {
  for (let i = 0; i < 3; i++) {
    try {
      return await read();
    } catch {
      // a scrape that timed out on a saturated machine: try again
    }
  }
  return undefined;
}

/** Registers or removes the change instance in Consul, through the backends' agent. */
async function consulChange(parts: SourceParts, present: boolean): Promise<void> {
  if (present) {
    await registerTtlService(
      parts.backendAgent,
      {
        id: CHANGE_ID,
        name: 'greeter',
        address: '127.0.0.1',
        port: parts.changePort,
        ttl: '10m',
        deregisterCriticalServiceAfter: '10m',
        initialStatus: 'passing',
      },
      { timeoutMs: 15_000 },
    );
  } else {
    await deregisterService(parts.backendAgent, CHANGE_ID, { timeoutMs: 15_000 });
  }
}

/** Sets up `name` on `parts`. */
export async function startSource(name: FleetSource, parts: SourceParts): Promise<SourceStack> {
  if (name === 'consul') {
    return {
      name,
      workerEnv: () => ({ DISCOVERY_SOURCE: 'consul' }),
      refreshSeconds: () => undefined,
      change: (p) => consulChange(parts, p),
      counters: async () => ({}),
      stop: async () => undefined,
    };
  }
  if (name === 'dns') {
    const upstreams = parts.cluster.clients.map((c) => c.dnsAddress).filter((a): a is string => a !== undefined);
    if (upstreams.length === 0) throw new Error('the cluster serves no Consul DNS (start it with dns: true)');
    const coredns: CoreDns = await startCoreDns({ upstreams });
    return {
      name,
      workerEnv: () => ({ DISCOVERY_SOURCE: 'dns', CONSUL_DNS_ADDR: coredns.address }),
      refreshSeconds: () => parts.dnsTtlSeconds,
      change: (p) => consulChange(parts, p),
      counters: async () => ({
        dnsServed: await patiently(() => coredns.queriesServed()),
        dnsToConsul: await patiently(() => coredns.queriesToConsul()),
      }),
      sourcePort: Number(coredns.address.split(':')[1]),
      serverPid: coredns.process.child.pid,
      stop: () => coredns.stop(),
    };
  }
  return startCloudMapSource(parts);
}

const REGION = 'eu-west-1';
const NAMESPACE = 'cgl-fleet';
const OWNER = 'health-sync/fleet';

/**
 * Poll interval for N environments watching one service: half of Cloud Map's steady quota
 * (1,000 DiscoverInstances/s per account and region) for the whole fleet, never under 5 s.
 */
export function cloudMapPollSeconds(environments: number): number {
  return Math.max(5, Math.ceil((environments * 2) / 1_000));
}

async function startCloudMapSource(parts: SourceParts): Promise<SourceStack> {
  const moto: MotoServer = await startMoto();
  const credentials = { AWS_ACCESS_KEY_ID: 'fleet-bench', AWS_SECRET_ACCESS_KEY: 'fleet-bench' };
  Object.assign(process.env, credentials);
  const client: ServiceDiscoveryClient = createCloudMapClient({ region: REGION, endpoint: moto.endpoint, maxAttempts: 3 });
  try {
    const op = await client.send(new CreateHttpNamespaceCommand({ Name: NAMESPACE }));
    const namespaceId = (await client.send(new GetOperationCommand({ OperationId: op.OperationId }))).Operation?.Targets?.NAMESPACE;
    if (!namespaceId) throw new Error('moto returned no namespace id');
    const instance = (id: string, port: number): DesiredInstance => ({ id, ipv4: '127.0.0.1', port, tags: [], meta: {}, healthy: true });
    // The health-sync job's writer: read what the mirror holds, plan the difference, apply it.
    const mirror = async (present: boolean) => {
      const state = await readCloudMapState(client, namespaceId, { ownerMarker: OWNER });
      const desired = [
        {
          name: 'greeter',
          instances: [instance(parts.greeter.id, parts.greeter.port), ...(present ? [instance(CHANGE_ID, parts.changePort)] : [])],
        },
      ];
      const summary = await applyPlan(client, planSync(desired, state, { namespaceId, ownerMarker: OWNER }), {
        concurrency: 4,
        log: silentLog,
      });
      if (summary.errors.length) throw new Error(`mirror write failed: ${JSON.stringify(summary.errors[0])}`);
    };
    await mirror(false);
    return {
      name: 'cloudmap',
      workerEnv: (n) => ({
        DISCOVERY_SOURCE: 'cloudmap',
        CLOUDMAP_NAMESPACE: NAMESPACE,
        CLOUDMAP_REGION: REGION,
        CLOUDMAP_ENDPOINT: moto.endpoint,
        CLOUDMAP_POLL_SECONDS: String(cloudMapPollSeconds(n)),
        ...credentials,
      }),
      refreshSeconds: (n) => cloudMapPollSeconds(n),
      change: mirror,
      counters: async () => ({}),
      sourcePort: moto.port,
      serverPid: moto.process.child.pid,
      stop: async () => {
        client.destroy();
        await moto.stop();
      },
    };
  } catch (err) {
    client.destroy();
    await moto.stop();
    throw err;
  }
}
