/** Typed errors of the DNS discovery source, from the error codes of Node's resolver (c-ares). */
import { AppError } from '../errors/app-error';

/**
 * Why a DNS lookup failed: `unreachable` (no server answered: timeout, refused connection),
 * `server_failure` (SERVFAIL: the server, e.g. a caching forwarder, could not reach Consul),
 * `refused` (REFUSED: the server does not serve the `consul.` zone), `invalid_name` (the query
 * cannot be asked as a DNS name), `failed` (anything else).
 */
export type DnsLookupErrorKind = 'unreachable' | 'server_failure' | 'refused' | 'invalid_name' | 'failed';

/** A DNS lookup failed; `noAnswer` is true when no answer could be had at all, so a fallback source may take over. */
export class DnsLookupError extends AppError<DnsLookupErrorKind> {
  override name = 'DnsLookupError';
  readonly domain = 'discovery';
  /** Read by lib/discovery/fallback-source.ts isNoAnswer: the source cannot answer (unreachable or SERVFAIL). */
  readonly noAnswer: boolean;
  /** The error code of Node's resolver, when there was one (ETIMEOUT, ECONNREFUSED, ESERVFAIL…). */
  readonly code?: string;
  constructor(kind: DnsLookupErrorKind, message: string, options?: { cause?: unknown; code?: string }) {
    super(kind, message, options);
    this.noAnswer = kind === 'unreachable' || kind === 'server_failure';
    if (options?.code) this.code = options.code;
  }
}

const UNREACHABLE = new Set(['ETIMEOUT', 'ECONNREFUSED', 'EEOF', 'ETIMEDOUT']);

/** The resolver's error code of `err` (c-ares codes such as ENOTFOUND), if it has one. */
export function dnsErrorCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** True for NXDOMAIN (ENOTFOUND) and NODATA (ENODATA): the name has no such record, an answer meaning "none". */
export function isNoRecords(err: unknown): boolean {
  const code = dnsErrorCode(err);
  return code === 'ENOTFOUND' || code === 'ENODATA';
}

/** Maps a resolver error for `name` to a DnsLookupError (the servers are loopback or VPC addresses, never secrets). */
export function toDnsLookupError(err: unknown, name: string, servers: readonly string[]): DnsLookupError {
  if (err instanceof DnsLookupError) return err;
  const code = dnsErrorCode(err);
  const where = `${name} at ${servers.join(', ')}`;
  if (code && UNREACHABLE.has(code))
    return new DnsLookupError('unreachable', `no DNS server answered for ${where} (${code})`, { cause: err, code });
  if (code === 'ESERVFAIL')
    return new DnsLookupError('server_failure', `DNS server failure for ${where} (SERVFAIL: Consul out of reach of the resolver?)`, {
      cause: err,
      code,
    });
  if (code === 'EREFUSED')
    return new DnsLookupError('refused', `DNS server refused ${where} (does it forward the consul. zone?)`, { cause: err, code });
  const message = err instanceof Error ? err.message : String(err);
  return new DnsLookupError('failed', `DNS lookup of ${where} failed: ${message}`, { cause: err, code });
}
