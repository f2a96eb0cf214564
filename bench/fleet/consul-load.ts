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
  /** RPC requests the node served as a server (consul_rpc_request). */
  rpc: number;
  /** Blocking RPC queries it served as a server (consul_rpc_query). */
  rpcQuery: number;
  /** RPCs it sent to the servers as a client agent (consul_client_rpc). */
  clientRpc: number;
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
    const req = get({ host, port: Number(port), path, localAddress: OBSERVER_ADDRESS, headers: { 'x-consul-token': token }, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`metrics of ${address}: HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`metrics of ${address}: timed out`)));
    req.on('error', reject);
  });
}

/** Reads the node's counters; `token` needs agent:read (the management token here). */
export async function readCounters(address: string, token: string): Promise<NodeCounters> {
  const text = await observe(address, '/v1/agent/metrics?format=prometheus', token);
  const sum = (name: string) => {
    let total = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith('#')) continue;
      const m = /^([a-z_]+)(\{[^}]*\})?\s+([0-9.eE+-]+)$/.exec(line);
      if (m && m[1] === name) total += Number(m[3]);
    }
    return total;
  };
  return { http: sum('consul_api_http_count'), rpc: sum('consul_rpc_request'), rpcQuery: sum('consul_rpc_query'), clientRpc: sum('consul_client_rpc') };
}
