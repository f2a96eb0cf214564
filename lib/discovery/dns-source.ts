/**
 * A HealthSource over Consul's DNS interface, asked through configured servers
 * (CONSUL_DNS_ADDR: a caching forwarder such as CoreDNS or a Route 53 Resolver
 * rule for `consul.`), so an environment holds no connection to Consul and the
 * queries that reach Consul depend on names and TTL, not on the fleet.
 *
 * A lookup is an SRV query (srv-names.ts) and an A (else AAAA) query per distinct
 * target: Node's resolver drops the additional section where Consul puts the
 * addresses. An A query for the service name itself, in parallel with the SRV
 * query, gives the TTL that resolveSrv does not (see nameTtlSeconds). Consul answers passing instances only when the operator set
 * `dns_config.only_passing`; NXDOMAIN or NODATA means "no passing instance".
 *
 * DNS cannot block, so a call with the current index is emulated: resolve again
 * at each refresh time (the answer's TTL plus up to a second of jitter, within min/max) until
 * the list changes or `waitSeconds` passes; `invalidate` cuts the wait short.
 * Indexes are a per-name counter that grows with every change.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Indexed } from '../consul/consul-api';
import type { ServiceInstance } from '../consul/service-instances';
import { errorSummary, silentLog, type Log } from '../log/logger';
import type { HealthSource } from './health-source';
import { DnsLookupError, isNoRecords, toDnsLookupError } from './srv-errors';
import { srvName, type SrvNameStyle } from './srv-names';
import { answerTtlSeconds, refreshDelayMs, toDnsInstances, type AddressRecord, type SrvRecord } from './srv-records';
import { sameInstances, type ServiceQuery } from './service-query';

/** The part of Node's dns/promises Resolver the source uses (a fake in unit tests). */
export interface DnsResolver {
  resolveSrv(name: string): Promise<SrvRecord[]>;
  resolve4(name: string, options: { ttl: true }): Promise<AddressRecord[]>;
  resolve6(name: string, options: { ttl: true }): Promise<AddressRecord[]>;
}

/** Tuning of the DNS source. */
export interface DnsSourceOptions {
  /** `host:port` (or `[v6]:port`) of the DNS servers to ask, in order. */
  servers: readonly string[];
  /** Time a server is given per try, ms (default 1,000). */
  timeoutMs?: number;
  /** Tries per server before a lookup fails (default 2). */
  tries?: number;
  /** Least time between two lookups of a name (default 1,000), also for a TTL of 0. */
  minRefreshMs?: number;
  /** Most time between two lookups of a name (default 30,000), whatever the TTL. */
  maxRefreshMs?: number;
  /** Time before looking again at a name with no instance, which gives no TTL (default 2,000). */
  emptyRefreshMs?: number;
  /**
   * Each refresh waits TTL + random × jitterMs (default 1,000: the TTL's own resolution, see
   * refreshDelayMs): spread over the second after a cache upstream expired, never before it.
   */
  jitterMs?: number;
  /** Least time between a lookup and one an invalidation asks for (default 250 ms): a burst of failed calls costs one lookup. */
  invalidateSpacingMs?: number;
  /** Spelling of service lookups (default 'consul'; see srv-names.ts). */
  nameStyle?: SrvNameStyle;
  /** Consul's DNS domain (default `consul`). */
  domain?: string;
  log?: Log;
  /** The resolver (default: one Node Resolver for this source with the options above); for tests. */
  resolver?: DnsResolver;
  /** Clock, sleep and randomness for tests. */
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

/** The DNS source; `lookups` counts SRV lookups started (a figure for benches and /status). */
export interface DnsHealthSource extends HealthSource {
  invalidate(query: ServiceQuery): void;
  readonly lookups: number;
}

/** What the source knows of one name. */
interface NameState {
  index: bigint;
  list?: ServiceInstance[];
  refreshAt: number;
  lastLookupAt: number;
  wakers: Set<() => void>;
}

/** A HealthSource that resolves passing instances through Consul DNS at `options.servers`. */
export function dnsHealthSource(options: DnsSourceOptions): DnsHealthSource {
  if (options.servers.length === 0) throw new DnsLookupError('invalid_name', 'the DNS source needs at least one server (CONSUL_DNS_ADDR)');
  const timeoutMs = options.timeoutMs ?? 1_000;
  const tries = options.tries ?? 2;
  const timing = {
    minRefreshMs: options.minRefreshMs ?? 1_000,
    maxRefreshMs: options.maxRefreshMs ?? 30_000,
    emptyRefreshMs: options.emptyRefreshMs ?? 2_000,
    jitterMs: options.jitterMs ?? 1_000,
  };
  const spacingMs = options.invalidateSpacingMs ?? 250;
  const log = options.log ?? silentLog;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? ((ms: number, signal: AbortSignal) => delay(ms, undefined, { signal, ref: false }));
  const resolver = options.resolver ?? nodeResolver(options.servers, timeoutMs, tries);
  // A backstop over the resolver's own timeouts (c-ares grows them per round): no lookup outlives it.
  const deadlineMs = timeoutMs * tries * options.servers.length * 2 + 250;
  const states = new Map<string, NameState>();
  let lookups = 0;

  const nameOf = (query: ServiceQuery) => srvName(query, options.nameStyle, options.domain);
  const stateOf = (name: string) => {
    let s = states.get(name);
    if (!s) states.set(name, (s = { index: 0n, refreshAt: 0, lastLookupAt: 0, wakers: new Set() }));
    return s;
  };

  /** One resolver call, bounded by the deadline and the caller's signal; NXDOMAIN/NODATA give []. */
  const ask = async <T>(name: string, run: () => Promise<T[]>, signal: AbortSignal): Promise<T[]> => {
    signal.throwIfAborted();
    const bound = AbortSignal.any([signal, AbortSignal.timeout(deadlineMs)]);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () =>
        reject(
          signal.aborted
            ? signal.reason
            : new DnsLookupError('unreachable', `no DNS answer for ${name} within ${deadlineMs} ms`, { code: 'ETIMEOUT' }),
        );
      bound.addEventListener('abort', onAbort, { once: true });
    });
    try {
      // Not cancelled on abort: Resolver.cancel() would cancel every query of this shared resolver; the lookup ends within its own timeout.
      return await Promise.race([run(), aborted]);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (isNoRecords(err)) return [];
      throw toDnsLookupError(err, name, options.servers);
    } finally {
      if (onAbort) bound.removeEventListener('abort', onAbort);
    }
  };

  /** A target's addresses: A first; AAAA only when it has none (Consul gives a node or service one address). */
  const addressesOf = async (target: string, signal: AbortSignal): Promise<AddressRecord[]> => {
    const v4 = await ask(target, () => resolver.resolve4(target, { ttl: true }), signal);
    return v4.length ? v4 : ask(target, () => resolver.resolve6(target, { ttl: true }), signal);
  };

  /**
   * The TTL left on the service name's own A/AAAA answer, a stand-in for the SRV answer's, which
   * Node's resolveSrv does not give. Consul gives both service_ttl, and only this source asks them,
   * always together, so a cache downstream fetched both in the same round and they expire together.
   * The targets' A records cannot stand in: a target (a node, an address) is shared by every name
   * on it, so its cache entry expires on its own clock, up to a TTL apart from the SRV answer (a
   * change would then take up to 2 × TTL). Undefined when it has no answer: only a hint.
   */
  const nameTtlSeconds = async (name: string, signal: AbortSignal): Promise<number | undefined> => {
    try {
      const v4 = await ask(name, () => resolver.resolve4(name, { ttl: true }), signal);
      const all = v4.length ? v4 : await ask(name, () => resolver.resolve6(name, { ttl: true }), signal);
      return all.length ? Math.min(...all.map((a) => a.ttl)) : undefined;
    } catch (err) {
      if (signal.aborted) throw err;
      return undefined;
    }
  };

  /** Resolves `name` now and records the answer; the index grows only when the list changed. */
  const refresh = async (name: string, query: ServiceQuery, s: NameState, signal: AbortSignal): Promise<Indexed<ServiceInstance[]>> => {
    lookups++;
    s.lastLookupAt = now();
    // Asked in parallel, so a cache downstream fetches the two answers in the same instant.
    const [records, nameTtl] = await Promise.all([ask(name, () => resolver.resolveSrv(name), signal), nameTtlSeconds(name, signal)]);
    const targets = [...new Set(records.map((r) => r.name))];
    const addresses = new Map(await Promise.all(targets.map(async (t) => [t, await addressesOf(t, signal)] as const)));
    const list = toDnsInstances(query, records, addresses);
    // The SRV answer's TTL, read from the name's A answer; the targets' TTL when that gave none.
    s.refreshAt = now() + refreshDelayMs(list.length ? (nameTtl ?? answerTtlSeconds(addresses)) : undefined, timing, random());
    if (s.list === undefined || !sameInstances(s.list, list)) {
      s.list = list;
      s.index++;
      for (const wake of [...s.wakers]) wake();
    }
    return { value: list, index: s.index.toString() };
  };

  /** Sleeps until `at`; true when woken early by invalidate. Rejects when `signal` aborts. */
  const waitUntil = async (s: NameState, at: number, signal: AbortSignal): Promise<boolean> => {
    const wake = new AbortController();
    const onWake = () => wake.abort();
    s.wakers.add(onWake);
    try {
      await sleep(Math.max(0, at - now()), AbortSignal.any([signal, wake.signal]));
      return false;
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (wake.signal.aborted) return true;
      throw err;
    } finally {
      s.wakers.delete(onWake);
    }
  };

  return {
    name: 'dns',
    get lookups() {
      return lookups;
    },
    async passingInstances(query, index, waitSeconds, signal) {
      const name = nameOf(query);
      const s = stateOf(name);
      // No index (a cold start), or one that is not the current: answer at once.
      if (index === undefined || s.list === undefined || index !== s.index.toString()) return refresh(name, query, s, signal);
      const deadline = now() + waitSeconds * 1000;
      for (;;) {
        await waitUntil(s, Math.min(s.refreshAt, deadline), signal);
        // Another call for the same name saw the change first.
        if (s.index.toString() !== index) return { value: s.list, index: s.index.toString() };
        if (now() >= s.refreshAt) {
          const res = await refresh(name, query, s, signal);
          if (res.index !== index || now() >= deadline) return res;
        } else if (now() >= deadline) {
          return { value: s.list, index: s.index.toString() };
        }
        // Otherwise woken by an invalidation whose lookup waits out the spacing: wait again.
      }
    },
    invalidate(query) {
      let name: string;
      try {
        name = nameOf(query);
      } catch (err) {
        log.debug('DNS source cannot invalidate a query it cannot spell', { query, error: errorSummary(err) });
        return;
      }
      const s = states.get(name);
      if (!s) return;
      s.refreshAt = Math.max(now(), s.lastLookupAt + spacingMs);
      for (const wake of [...s.wakers]) wake();
    },
  };
}

/**
 * One Node Resolver with the source's servers, timeout and tries (each source has its own). dns/promises is
 * loaded here, only by a gateway configured with the dns source: an import would load it (and, in the ES
 * module bundle, its facade) on every cold start.
 */
function nodeResolver(servers: readonly string[], timeoutMs: number, tries: number): DnsResolver {
  const { Resolver } = process.getBuiltinModule('node:dns/promises');
  const r = new Resolver({ timeout: timeoutMs, tries });
  r.setServers([...servers]);
  return r;
}
