/**
 * A HealthSource over the Cloud Map mirror that the health-sync job writes: the passing
 * instances of this datacenter's mirrored services, read with DiscoverInstances.
 *
 * Cloud Map cannot block, so a call with an index is emulated: poll every pollInterval
 * (jittered around it, at most ±MAX_JITTER_MS / 2) until the list changes or `waitSeconds` passes. Indexes
 * are a per-query counter that grows with every change. Calls spend a quota shared by the
 * whole account and region, so the interval follows from it (leastPollIntervalMs) and an
 * invalidation cannot pull calls closer together than `minSpacingMs`.
 *
 * What the mirror holds decides what is served: plain (non-Connect) passing instances of one
 * datacenter. A Connect query or another datacenter's is refused with CloudMapQueryNotServedError,
 * an answer (not "no answer"), so a fallback does not switch on it and /status says why.
 * The reader is given as an InstanceDirectory so discovery never imports the cloudmap adapter;
 * the gateway runtime passes lib/cloudmap/discover-instances.ts's client.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Indexed } from '../consul/consul-api';
import { compareInstances, type ServiceInstance } from '../consul/service-instances';
import { AppError } from '../errors/app-error';
import { silentLog, type Log } from '../log/logger';
import type { HealthSource } from './health-source';
import { queryKey, sameInstances, type ServiceQuery } from './service-query';

/** One instance as the directory holds it (lib/cloudmap/discover-instances.ts DiscoveredInstance has this shape). */
export interface DirectoryInstance {
  instanceId: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
}

/**
 * Reads healthy instances of a service from a namespace. Errors should carry `throttled: true`
 * (the watch backs off) or `noAnswer: true` (a fallback takes over) where that is what they mean.
 */
export interface InstanceDirectory {
  discover(namespace: string, service: string, signal: AbortSignal): Promise<DirectoryInstance[]>;
}

/** Tuning of the Cloud Map source. */
export interface CloudMapSourceOptions {
  /** Name (not id) of the HTTP namespace the health-sync job mirrors into. */
  namespace: string;
  /** Least time between two polls of one query; see leastPollIntervalMs for the quota's floor. */
  pollIntervalMs: number;
  /**
   * Each wait is pollIntervalMs + (random − ½) × min(jitter × pollIntervalMs, MAX_JITTER_MS), default 0.2:
   * centred on the interval, so the mean rate (what the quota's refill counts) is the interval's, and
   * at most half a second late, so a change reaches every environment within the interval + 1 s.
   */
  jitter?: number;
  /** Least time between two calls of one query, invalidations included (default: half the interval, at least MIN_SPACING_MS). */
  minSpacingMs?: number;
  /** The datacenter whose instances the mirror holds; a query naming another one is not served. */
  datacenter?: string;
  /** The Cloud Map service name of a query (default: the Consul service name, as health-sync names it). */
  serviceName?: (query: ServiceQuery) => string;
  log?: Log;
  /** Clock and sleep for tests. */
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

/** Cloud Map's documented DiscoverInstances quota, shared by every caller in one account and region. */
export const DISCOVER_INSTANCES_QUOTA = { steadyPerSecond: 1_000, burst: 2_000 } as const;
/** Floor of the spacing of two calls of one query, whatever the interval. */
export const MIN_SPACING_MS = 1_000;
/** Default jitter of the poll interval. */
export const DEFAULT_JITTER = 0.2;
/** Widest spread of one wait around the interval. */
export const MAX_JITTER_MS = 1_000;

/**
 * Least poll interval (ms) that keeps `environments` × `services` polls within `share` (0–1] of the
 * steady quota: interval = N·S / (share · 1000/s), at least MIN_SPACING_MS. Invalidations can at most
 * double one watch's rate, and only while calls keep finding dead addresses: keep `share` ≤ 0.5 for that.
 */
export function leastPollIntervalMs(
  environments: number,
  services: number,
  share: number,
  quota: { steadyPerSecond: number } = DISCOVER_INSTANCES_QUOTA,
): number {
  if (!(environments >= 0 && services >= 0 && share > 0 && share <= 1))
    throw new RangeError(
      `leastPollIntervalMs: need environments ≥ 0, services ≥ 0, 0 < share ≤ 1 (got ${environments}, ${services}, ${share})`,
    );
  return Math.max(MIN_SPACING_MS, Math.ceil((environments * services * 1000) / (share * quota.steadyPerSecond)));
}

/** True when a fleet whose `environments` all start at once (S calls each) stays within `share` of the burst. */
export function coldStartFitsBurst(
  environments: number,
  services: number,
  share: number,
  quota: { burst: number } = DISCOVER_INSTANCES_QUOTA,
): boolean {
  return environments * services <= share * quota.burst;
}

/** The query asks for what the mirror does not hold (Connect, another datacenter). */
export class CloudMapQueryNotServedError extends AppError<'not_served'> {
  override name = 'CloudMapQueryNotServedError';
  readonly domain = 'discovery';
  readonly noAnswer = false;
  readonly throttled = false;
  constructor(message: string) {
    super('not_served', message);
  }
}

interface QueryState {
  index: bigint;
  list?: ServiceInstance[];
  lastCallAt?: number;
  /** Set by invalidate(): the next poll may come early (but not before lastCallAt + minSpacing). */
  early: boolean;
  wake?: () => void;
}

/** The Cloud Map mirror as a HealthSource named 'cloudmap'. */
export function cloudMapHealthSource(directory: InstanceDirectory, options: CloudMapSourceOptions): HealthSource {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const pause = options.sleep ?? ((ms: number, signal: AbortSignal) => sleep(ms, undefined, { signal }));
  const jitter = Math.max(0, options.jitter ?? DEFAULT_JITTER);
  const interval = Math.max(1, options.pollIntervalMs);
  const minSpacing = options.minSpacingMs ?? Math.max(MIN_SPACING_MS, Math.floor(interval / 2));
  const serviceName = options.serviceName ?? ((q: ServiceQuery) => q.service);
  const log = options.log ?? silentLog;
  const states = new Map<string, QueryState>();

  const state = (q: ServiceQuery) => {
    const key = queryKey(q);
    let s = states.get(key);
    if (!s) states.set(key, (s = { index: 0n, early: false }));
    return s;
  };

  const served = (q: ServiceQuery) => {
    if (q.connect)
      throw new CloudMapQueryNotServedError(
        `cloudmap: Connect queries are not served (the mirror holds plain instances, not Connect proxies) for ${q.service}`,
      );
    if (q.datacenter !== undefined && q.datacenter !== options.datacenter) {
      throw new CloudMapQueryNotServedError(
        `cloudmap: datacenter ${q.datacenter} is not mirrored here (the mirror holds ${options.datacenter ?? 'the local datacenter'} only) for ${q.service}`,
      );
    }
  };

  const poll = async (q: ServiceQuery, s: QueryState, signal: AbortSignal): Promise<boolean> => {
    s.lastCallAt = now();
    s.early = false;
    const found = await directory.discover(options.namespace, serviceName(q), signal);
    const list = toInstances(q, found);
    if (s.list !== undefined && sameInstances(s.list, list)) return false;
    s.index++;
    if (s.list !== undefined) log.debug('cloudmap: instances changed', { query: q, count: list.length, index: s.index.toString() });
    s.list = list;
    return true;
  };

  const answer = (s: QueryState): Indexed<ServiceInstance[]> => ({ value: s.list ?? [], index: s.index.toString() });

  return {
    name: 'cloudmap',
    async passingInstances(query, index, waitSeconds, signal) {
      served(query);
      signal.throwIfAborted();
      const s = state(query);
      const cached = s.list !== undefined && s.lastCallAt !== undefined && now() - s.lastCallAt < minSpacing;
      if (index === undefined || s.list === undefined || index !== s.index.toString()) {
        // At once: a cold start, or a caller whose index is not ours (the cache answers within the spacing).
        if (!cached) await poll(query, s, signal);
        return answer(s);
      }
      const deadline = now() + waitSeconds * 1000;
      for (;;) {
        const last = s.lastCallAt ?? now();
        const due = s.early ? last + minSpacing : last + interval + (random() - 0.5) * Math.min(jitter * interval, MAX_JITTER_MS);
        const wait = Math.min(due, deadline) - now();
        if (wait > 0) await wakeableSleep(s, wait, signal, pause);
        signal.throwIfAborted();
        const t = now();
        const dueNow = s.early ? t >= last + minSpacing : t >= due;
        if (dueNow && (await poll(query, s, signal))) return answer(s);
        if (now() >= deadline) return answer(s);
      }
    },
    invalidate(query) {
      const s = states.get(queryKey(query));
      if (!s) return;
      s.early = true;
      s.wake?.();
    },
  };
}

/** Sleeps `ms`, or less when invalidate() wakes it; rejects on abort. */
async function wakeableSleep(
  s: QueryState,
  ms: number,
  signal: AbortSignal,
  pause: (ms: number, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const cut = new AbortController();
  const onAbort = () => cut.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  s.wake = () => cut.abort();
  try {
    await pause(ms, cut.signal);
  } catch (err) {
    if (signal.aborted) throw err;
  } finally {
    s.wake = undefined;
    signal.removeEventListener('abort', onAbort);
  }
}

/** The instances a query routes to, sorted as Consul's lists are so equal lists compare equal. */
function toInstances(q: ServiceQuery, found: readonly DirectoryInstance[]): ServiceInstance[] {
  return (
    found
      .filter((i) => q.tag === undefined || i.tags.includes(q.tag))
      // The mirror does not carry the Consul node; '' keeps lists of one source comparable.
      .map((i) => ({
        id: i.instanceId,
        service: q.service,
        address: i.address,
        port: i.port,
        tags: [...i.tags],
        meta: { ...i.meta },
        node: '',
      }))
      .sort(compareInstances)
  );
}
