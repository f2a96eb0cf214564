/** Parsing of CONSUL_HTTP_ADDR in the forms the Consul CLI accepts. */
import { ConsulAddressError } from './errors';

/** Where the Consul HTTP API listens. */
export interface ConsulAddress {
  host: string;
  port: number;
  secure: boolean;
}

/** How an address is read. */
export interface ConsulAddressOptions {
  /**
   * TLS is configured (a CA, a client certificate, CONSUL_HTTP_SSL=true…): a bare `host:port` means
   * https, as with the Consul CLI's CONSUL_HTTP_SSL=true, and an explicit `http://` is refused
   * rather than silently upgraded (the CLI upgrades it), because it contradicts the TLS settings.
   */
  tls?: boolean;
}

/** Parses `host:port`, `http://host:port` or `https://host:port` (bare form: port 8500, https with `opts.tls`, else http). */
export function parseConsulAddress(raw: string, opts: ConsulAddressOptions = {}): ConsulAddress {
  const text = raw.trim();
  if (!text) throw new ConsulAddressError('Consul address is empty');
  const bare = !/^[a-z]+:\/\//i.test(text);
  const withScheme = bare ? `${opts.tls ? 'https' : 'http'}://${text}` : text;
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
  // Named by host and port only: a URL's user-info could hold a credential.
  if (opts.tls && !secure)
    throw new ConsulAddressError(
      `Consul address ${url.host} is http:// but TLS settings are present: the token would go in clear; give https:// (or a bare host:port, which then means https)`,
    );
  const port = url.port ? Number(url.port) : bare ? 8500 : secure ? 443 : 8500;
  // URL keeps IPv6 brackets; the HTTP agent wants the bare address.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port, secure };
}

/**
 * Parses CONSUL_HTTP_ADDR as one address or a comma-separated list (client agents, or servers with no load balancer).
 * A list is all https or all http: failing over from an https address must never drop TLS.
 */
export function parseConsulAddresses(raw: string, opts: ConsulAddressOptions = {}): ConsulAddress[] {
  const list = raw
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  if (!list.length) throw new ConsulAddressError('Consul address is empty');
  const addresses = list.map((a) => parseConsulAddress(a, opts));
  if (addresses.some((a) => a.secure) && addresses.some((a) => !a.secure)) {
    throw new ConsulAddressError(
      'Consul address list mixes https and http (a bare host:port is http when no TLS setting is present); a failover must not drop TLS, so give every address https://',
    );
  }
  return addresses;
}

/** `http(s)://host:port`, with IPv6 hosts bracketed. */
export function consulAddressUrl(a: ConsulAddress): string {
  return `${a.secure ? 'https' : 'http'}://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}
