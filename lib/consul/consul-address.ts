/** Parsing of CONSUL_HTTP_ADDR in the forms the Consul CLI accepts. */
import { ConsulAddressError } from './errors';

/** Where the Consul HTTP API listens. */
export interface ConsulAddress {
  host: string;
  port: number;
  secure: boolean;
}

/** Parses `host:port`, `http://host:port` or `https://host:port` (default port 8500). */
export function parseConsulAddress(raw: string): ConsulAddress {
  const text = raw.trim();
  if (!text) throw new ConsulAddressError('Consul address is empty');
  const withScheme = /^[a-z]+:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConsulAddressError(`Consul address "${text}" is not host:port or a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConsulAddressError(`Consul address scheme must be http or https, got ${url.protocol}`);
  }
  const secure = url.protocol === 'https:';
  const port = url.port ? Number(url.port) : secure ? 443 : 8500;
  // URL keeps IPv6 brackets; the HTTP agent wants the bare address.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port, secure };
}

/**
 * Parses CONSUL_HTTP_ADDR as one address or a comma-separated list (client agents, or servers with no load balancer).
 * A list is all https or all http: failing over from an https address must never drop TLS.
 */
export function parseConsulAddresses(raw: string): ConsulAddress[] {
  const list = raw.split(',').map((a) => a.trim()).filter(Boolean);
  if (!list.length) throw new ConsulAddressError('Consul address is empty');
  const addresses = list.map(parseConsulAddress);
  if (addresses.some((a) => a.secure) && addresses.some((a) => !a.secure)) {
    throw new ConsulAddressError('Consul address list mixes https and http (a bare host:port is http); a failover must not drop TLS, so give every address https://');
  }
  return addresses;
}

/** `http(s)://host:port`, with IPv6 hosts bracketed. */
export function consulAddressUrl(a: ConsulAddress): string {
  return `${a.secure ? 'https' : 'http'}://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}
