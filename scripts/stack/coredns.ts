/**
 * Starts a real CoreDNS on loopback as the caching forwarder between the
 * functions and Consul's DNS interface: the job a Route 53 Resolver outbound
 * endpoint with a forwarding rule for `consul.` does in AWS. It serves the
 * `consul.` zone only (forward + cache); any other name is REFUSED, because no
 * server block matches it, so nothing is ever sent to the internet.
 *
 * Its Corefile lives in a private temp dir removed on stop; the count of
 * queries it forwarded comes from its own Prometheus endpoint.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureCoreDnsBinary } from '../coredns-binary';
import { ownedTempDir, removeOwned } from './lifecycle';
import { freePort, startProcess, stopProcess, type ManagedProcess } from './processes';
import { pollWhileRunning } from '../support/poll-until';

/** Options of the forwarder. */
export interface CoreDnsOptions {
  /** `host:port` of Consul DNS interfaces (loopback); queries are spread over them and move on from one that fails. */
  upstreams: readonly string[];
  /** Longest an answer is cached, seconds (default 30): Consul's own TTLs (dns_config) are what normally decide. */
  cacheSeconds?: number;
  /**
   * Shortest time an answer is cached, seconds (default 1): an answer Consul sends with TTL 0 (no
   * service_ttl set) still shields Consul from every client's query.
   */
  minCacheSeconds?: number;
  /** How long a SERVFAIL (Consul unreachable) is cached, seconds (default 1; CoreDNS's own default is 5). */
  servfailCacheSeconds?: number;
  /** Log every query (CoreDNS's `log` plugin) into the process output; off by default, a bench would drown in it. */
  logQueries?: boolean;
  echo?: (line: string) => void;
  readyTimeoutMs?: number;
}

/** A running forwarder. */
export interface CoreDns {
  /** `127.0.0.1:<port>` (UDP and TCP): what CONSUL_DNS_ADDR names. */
  address: string;
  /** `http://127.0.0.1:<port>/metrics`. */
  metricsUrl: string;
  process: ManagedProcess;
  /** Queries CoreDNS sent to Consul so far (cache misses forwarded), summed over upstreams, from its metrics endpoint. */
  queriesToConsul(): Promise<number>;
  /** Queries CoreDNS answered so far (from cache or forwarded). */
  queriesServed(): Promise<number>;
  stop(): Promise<void>;
}

/** The Corefile for `opts` on the given loopback ports. */
export function corefile(opts: CoreDnsOptions, ports: { dns: number; metrics: number; ready: number }): string {
  if (opts.upstreams.length === 0) throw new Error('CoreDNS needs at least one upstream (a Consul DNS address)');
  for (const u of opts.upstreams) {
    if (!/^127\.\d+\.\d+\.\d+:\d+$/.test(u))
      throw new Error(`CoreDNS upstream ${u} is not a loopback host:port; nothing here may leave the machine`);
  }
  const max = Math.floor(opts.cacheSeconds ?? 30);
  const min = Math.min(max, Math.floor(opts.minCacheSeconds ?? 1));
  const servfail = Math.floor(opts.servfailCacheSeconds ?? 1);
  // Only the `consul.` block exists: CoreDNS answers REFUSED for a name no block serves.
  return `consul.:${ports.dns} {
  bind 127.0.0.1
  ready 127.0.0.1:${ports.ready}
  prometheus 127.0.0.1:${ports.metrics}
  errors
${opts.logQueries ? '  log\n' : ''}  cache ${max} {
    success 9984 ${max} ${min}
    denial 9984 ${max} ${min}
    servfail ${servfail}s
  }
  forward . ${opts.upstreams.join(' ')}
}
`;
}

/** Starts CoreDNS and resolves once its `ready` endpoint says every plugin is ready. */
export async function startCoreDns(opts: CoreDnsOptions): Promise<CoreDns> {
  const bin = ensureCoreDnsBinary((l) => console.error(l));
  const ports = { dns: await freePort(), metrics: await freePort(), ready: await freePort() };
  const text = corefile(opts, ports);
  const dir = ownedTempDir('coredns');
  const file = join(dir, 'Corefile');
  writeFileSync(file, text, { mode: 0o600 });
  const proc = startProcess('coredns', bin, ['-conf', file], { cwd: dir, echo: opts.echo });
  void proc.exited.then(() => removeOwned(dir));
  const stop = async () => {
    await stopProcess(proc, 'SIGTERM', 5_000);
    removeOwned(dir);
  };
  const metricsUrl = `http://127.0.0.1:${ports.metrics}/metrics`;
  try {
    await waitUntilReady(`http://127.0.0.1:${ports.ready}/ready`, proc, opts.readyTimeoutMs ?? 15_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    address: `127.0.0.1:${ports.dns}`,
    metricsUrl,
    process: proc,
    // The forward plugin counts each upstream exchange in its proxy histogram, one sample per query sent.
    queriesToConsul: async () =>
      sumMetric(await scrape(metricsUrl), 'coredns_proxy_request_duration_seconds_count', { proxy_name: 'forward' }),
    queriesServed: async () => sumMetric(await scrape(metricsUrl), 'coredns_dns_requests_total', {}),
    stop,
  };
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  if (!res.ok) throw new Error(`CoreDNS metrics answered ${res.status}`);
  return res.text();
}

/** Sums the samples of `name` whose labels include `labels`, in Prometheus text format. */
export function sumMetric(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]] as const));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}

async function waitUntilReady(url: string, proc: ManagedProcess, timeoutMs: number): Promise<void> {
  await pollWhileRunning(
    proc,
    async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (!res.ok) throw new Error(`ready ${res.status}`);
      return true;
    },
    'coredns to be ready',
    { timeoutMs },
  );
}
