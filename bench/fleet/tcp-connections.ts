/**
 * Open TCP connections to a local port, per client IP, read from /proc/net/tcp(6): what a
 * Consul agent's `limits.http_max_conns_per_client` counts (every open connection of an IP,
 * idle keep-alive ones included). Linux only; the benchmark and the 429 test run there.
 */
import { readFileSync } from 'node:fs';

/** TCP states Consul still counts against the cap: established, and the server side of a close not yet finished. */
const OPEN_STATES = new Set(['01', '08']); // ESTABLISHED, CLOSE_WAIT

/** Connections whose server end is `port`, keyed by the client's IP. */
export function connectionsByClientIp(port: number): Map<string, number> {
  const byIp = new Map<string, number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6 table on this machine
    }
    for (const line of text.split('\n').slice(1)) {
      const [, local, remote, state] = line.trim().split(/\s+/);
      if (!local || !remote || !state || !OPEN_STATES.has(state)) continue;
      if (parseInt(local.split(':')[1] ?? '', 16) !== port) continue;
      const ip = hexToIp(remote.split(':')[0] ?? '');
      byIp.set(ip, (byIp.get(ip) ?? 0) + 1);
    }
  }
  return byIp;
}

/** The most connections any one client IP holds to `port`. */
export function maxConnectionsPerIp(port: number): number {
  return Math.max(0, ...connectionsByClientIp(port).values());
}

/** /proc/net/tcp writes an IPv4 address as 8 hex digits in host (little-endian) order; v4-mapped v6 ends in it. */
function hexToIp(hex: string): string {
  const v4 = hex.length === 32 ? hex.slice(24) : hex;
  if (v4.length !== 8) return hex;
  const bytes = v4.match(/../g)?.map((b) => parseInt(b, 16)) ?? [];
  return bytes.reverse().join('.');
}
