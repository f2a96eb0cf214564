/**
 * Reads a namespace's services, instances and custom health statuses from
 * Cloud Map, following every NextToken and counting calls per operation.
 *
 * Reads are kept to what a plan needs: instances and health only of services
 * we own (when a marker is given), health only of services with a custom
 * health config and at least one instance. A namespace with S owned services
 * costs 1 + 2·S calls per run (more past 100 per page).
 */
import {
  GetInstancesHealthStatusCommand,
  GetServiceCommand,
  ListInstancesCommand,
  ListServicesCommand,
  type ServiceDiscoveryClient,
} from '@aws-sdk/client-servicediscovery';
import { silentLog, type Log } from '../log/logger';
import { mapBounded } from '../util/bounded';
import { CallCounter } from './call-counter';
import { CloudMapRequestError } from './errors';
import { isOwnedBy } from './ownership';
import type { ActualInstance, ActualService, CloudMapState, HealthStatus } from './types';

/** What to read; defaults read only what a plan for `ownerMarker` needs. */
export interface ReadOptions {
  /** When set, instances of services without this marker are not read (we never touch them). */
  ownerMarker?: string;
  /** Names of services without the marker whose instances are read anyway (reverse sync imports them). */
  alsoRead?: readonly string[];
  /**
   * Confirm each listed service's namespace with GetService (once per service id
   * and client). AWS applies the NAMESPACE_ID filter; moto ignores it, and the
   * SDK drops the NamespaceId moto adds to summaries. Default true.
   */
  verifyNamespace?: boolean;
  /** Page size for list calls; Cloud Map allows at most 100. */
  pageSize?: number;
  /** Services read in parallel. Default 8. */
  concurrency?: number;
  log?: Log;
}

// A service's namespace never changes, so warm invocations need not ask again.
const namespaceCache = new WeakMap<ServiceDiscoveryClient, Map<string, string>>();
const MAX_PAGES = 10_000;

/** Reads the state of namespace `namespaceId` that planSync needs. */
export async function readCloudMapState(
  client: ServiceDiscoveryClient,
  namespaceId: string,
  opts: ReadOptions = {},
): Promise<CloudMapState> {
  const counter = new CallCounter();
  const pageSize = Math.min(100, Math.max(1, opts.pageSize ?? 100));
  const filters = [{ Name: 'NAMESPACE_ID' as const, Values: [namespaceId], Condition: 'EQ' as const }];
  const summaries = (
    await allPages('ListServices', (NextToken) =>
      counter.track('ListServices', () => client.send(new ListServicesCommand({ Filters: filters, MaxResults: pageSize, NextToken }))),
    )
  ).flatMap((p) => p.Services ?? []);

  const concurrency = opts.concurrency ?? 8;
  const listed = summaries.flatMap((s) =>
    s.Id && s.Name !== undefined
      ? [{ id: s.Id, name: s.Name, description: s.Description, customHealth: s.HealthCheckCustomConfig !== undefined }]
      : [],
  );
  const inNamespace = await mapBounded(
    listed,
    concurrency,
    async (s) => opts.verifyNamespace === false || (await namespaceOf(client, counter, s.id)) === namespaceId,
  );
  const services: ActualService[] = listed.filter((_, i) => inNamespace[i]);

  const mine = services.filter(
    (s) => opts.ownerMarker === undefined || isOwnedBy(s.description, opts.ownerMarker) || opts.alsoRead?.includes(s.name),
  );
  await mapBounded(mine, concurrency, async (svc) => {
    svc.instances = await readInstances(client, counter, svc, pageSize, opts.log ?? silentLog);
  });
  return { namespaceId, services, calls: counter.calls };
}

async function readInstances(
  client: ServiceDiscoveryClient,
  counter: CallCounter,
  svc: ActualService,
  pageSize: number,
  log: Log,
): Promise<ActualInstance[]> {
  const pages = await allPages('ListInstances', (NextToken) =>
    counter.track('ListInstances', () => client.send(new ListInstancesCommand({ ServiceId: svc.id, MaxResults: pageSize, NextToken }))),
  );
  // Last one wins: moto appends a second copy when an id is registered again
  // (AWS updates in place), and the later copy holds the newer attributes.
  const byId = new Map<string, Record<string, string>>();
  for (const i of pages.flatMap((p) => p.Instances ?? [])) if (i.Id) byId.set(i.Id, { ...(i.Attributes ?? {}) });
  const listed = pages.reduce((n, p) => n + (p.Instances?.length ?? 0), 0);
  if (listed !== byId.size)
    log.warn('Cloud Map listed an instance id more than once; keeping the last', { serviceId: svc.id, listed, unique: byId.size });

  const health = new Map<string, HealthStatus>();
  if (svc.customHealth && byId.size > 0) {
    const hp = await allPages('GetInstancesHealthStatus', (NextToken) =>
      counter.track('GetInstancesHealthStatus', () =>
        client.send(new GetInstancesHealthStatusCommand({ ServiceId: svc.id, MaxResults: pageSize, NextToken })),
      ),
    );
    for (const p of hp) for (const [id, st] of Object.entries(p.Status ?? {})) health.set(id, st);
  }
  return [...byId].map(([id, attributes]) => ({ id, attributes, health: health.get(id) ?? 'UNKNOWN' }));
}

async function namespaceOf(client: ServiceDiscoveryClient, counter: CallCounter, serviceId: string): Promise<string | undefined> {
  let cache = namespaceCache.get(client);
  if (!cache) namespaceCache.set(client, (cache = new Map()));
  const known = cache.get(serviceId);
  if (known !== undefined) return known;
  const out = await counter.track('GetService', () => client.send(new GetServiceCommand({ Id: serviceId })));
  const ns = out.Service?.NamespaceId;
  if (ns !== undefined) cache.set(serviceId, ns);
  return ns;
}

/** Fetches pages until there is no NextToken; a token seen twice means a broken server, not more data. */
async function allPages<T extends { NextToken?: string }>(
  operation: string,
  fetchPage: (token: string | undefined) => Promise<T>,
): Promise<T[]> {
  const pages: T[] = [];
  const seen = new Set<string>();
  let token: string | undefined;
  do {
    const page = await fetchPage(token);
    pages.push(page);
    token = page.NextToken || undefined;
    if (token !== undefined && seen.has(token)) throw new CloudMapRequestError(operation, `NextToken ${token} came back twice; stopping`);
    if (token !== undefined) seen.add(token);
  } while (token !== undefined && pages.length < MAX_PAGES);
  return pages;
}
