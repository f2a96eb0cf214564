/**
 * What a Consul node costs and serves, read from the node itself: CPU time and RSS from
 * /proc/<pid>, and cumulative request counters from its Prometheus telemetry
 * (`/v1/agent/metrics?format=prometheus`, which needs `prometheus_retention_time`).
 */
import { readFileSync } from 'node:fs';
import { get } from 'node:http';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Resident set size in MB. */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Sums of the counters a fleet row compares, on one node. */
export interface NodeCounters {
  /** HTTP API requests the node answered (consul_api_http summary count, every method and path). */
  http: number;
  /** The same, split by what the request is for (see `httpCategory`). */
  httpDiscovery: number;
  httpLease: number;
  httpConfig: number;
  /** RPC requests the node served as a server (consul_rpc_request). */
  rpc: number;
  /** Blocking RPC queries it served as a server (consul_rpc_query). */
  rpcQuery: number;
  /** RPCs it sent to the servers as a client agent (consul_client_rpc). */
  clientRpc: number;
  /** Lease work a server did: session creates and destroys (Session.Apply), session renewals, catalog (de)registrations, K/V writes. */
  sessionApply: number;
  sessionRenew: number;
  catalogWrites: number;
  kvWrites: number;
  /** Raft log entries the node applied as leader (consul_raft_apply; 0 on followers and agents). */
  raftApply: number;
  /** Health queries a server answered (consul_health_service_query): discovery reaching the servers. */
  healthQueries: number;
  /** DNS questions the node answered for `.consul` names (consul_dns_domain_query summary count). */
  dnsQueries: number;
}

/**
 * What an HTTP request at an agent is for, from the method and path labels of consul_api_http:
 * discovery (health and catalog reads), the environment lease (TTL-check renewals, service
 * (de)registrations, sessions, K/V writes: the gateway writes K/V only to hold its lease key),
 * config (K/V reads), or other (the observer's own metrics and status reads, tokens).
 */
export function httpCategory(method: string, path: string): 'discovery' | 'lease' | 'config' | 'other' {
  if (/^v1_(health|catalog)_/.test(path)) return 'discovery';
  if (
    /^v1_agent_check_(pass|fail|warn|update)|^v1_agent_service_(register|deregister)|^v1_session_/.test(path) ||
    (method === 'PUT' && /^v1_kv_/.test(path))
  )
    return 'lease';
  if (method === 'GET' && /^v1_kv_/.test(path)) return 'config';
  return 'other';
}

/**
 * The observer's own source address: the agent caps connections per client IP, and the fleet
 * fills 127.0.0.1's share on purpose; any 127/8 address reaches a loopback listener on Linux.
 */
const OBSERVER_ADDRESS = '127.0.0.2';

/** GET `path` from `address` as the observer, within 5 s. */
function observe(address: string, path: string, token: string): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const req = get(
      { host, port: Number(port), path, localAddress: OBSERVER_ADDRESS, headers: { 'x-consul-token': token }, timeout: 5_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`metrics of ${address}: HTTP ${res.statusCode}`))));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`metrics of ${address}: timed out`)));
    req.on('error', reject);
  });
}

/** Reads the node's counters; `token` needs agent:read (the management token here). */
export async function readCounters(address: string, token: string): Promise<NodeCounters> {
  const text = await observe(address, '/v1/agent/metrics?format=prometheus', token);
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:]+)(\{[^}]*\})?\s+([0-9.eE+-]+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  const sum = (name: string, where: (labels: Record<string, string>) => boolean = () => true) =>
    samples.reduce((a, x) => (x.name === name && where(x.labels) ? a + x.value : a), 0);
  const http = (category: ReturnType<typeof httpCategory>) =>
    sum('consul_api_http_count', (l) => l.path !== undefined && httpCategory(l.method ?? '', l.path) === category);
  return {
    http: sum('consul_api_http_count'),
    httpDiscovery: http('discovery'),
    httpLease: http('lease'),
    httpConfig: http('config'),
    rpc: sum('consul_rpc_request'),
    rpcQuery: sum('consul_rpc_query'),
    clientRpc: sum('consul_client_rpc'),
    sessionApply: sum('consul_session_apply_count'),
    sessionRenew: sum('consul_session_renew_count'),
    catalogWrites: sum('consul_catalog_register_count') + sum('consul_catalog_deregister_count'),
    kvWrites: sum('consul_kvs_apply_count'),
    raftApply: sum('consul_raft_apply'),
    healthQueries: sum('consul_health_service_query'),
    dnsQueries: sum('consul_dns_domain_query_count'),
  };
}

/** `after - before`, field by field. */
export function counterDelta(after: NodeCounters, before: NodeCounters): NodeCounters {
  const out = { ...after };
  for (const k of Object.keys(out) as Array<keyof NodeCounters>) out[k] = after[k] - before[k];
  return out;
}

/** Field-by-field sum of several nodes' counters. */
export function sumCounters(list: readonly NodeCounters[]): NodeCounters {
  const zero = {
    http: 0,
    httpDiscovery: 0,
    httpLease: 0,
    httpConfig: 0,
    rpc: 0,
    rpcQuery: 0,
    clientRpc: 0,
    sessionApply: 0,
    sessionRenew: 0,
    catalogWrites: 0,
    kvWrites: 0,
    raftApply: 0,
    healthQueries: 0,
    dnsQueries: 0,
  };
  for (const c of list) for (const k of Object.keys(zero) as Array<keyof NodeCounters>) zero[k] += c[k];
  return zero;
}
