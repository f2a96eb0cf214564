/**
 * How a failed node-consul request becomes one typed error: a TLS failure on an https address (the agent's
 * certificate did not verify, or it refused ours) is a ConsulTlsError that fails the call closed; anything
 * else is a ConsulRequestError with the status code, if any, and the first line of the message only.
 */
import { consulAddressUrl, type ConsulAddress } from './consul-address';
import { ConsulRequestError, ConsulTlsError } from './errors';

/** OpenSSL's certificate verification results as Node reports them in `err.code`. */
const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/** The TLS error code of a failed request (verification, a name mismatch, a handshake alert, a TLS protocol error), if it is one. */
function tlsErrorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 3; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, library } = e as { code?: unknown; library?: unknown };
    if (typeof code === 'string' && (TLS_VERIFY_CODES.has(code) || /^ERR_(TLS|SSL)_/.test(code))) return code;
    // A record OpenSSL could not read (e.g. the address speaks plain HTTP) surfaces as a write EPROTO.
    if (code === 'EPROTO' || (typeof library === 'string' && /SSL/.test(library))) return typeof code === 'string' ? code : 'SSL';
  }
  return undefined;
}

/** The typed error for a request `operation` to `endpoint` that failed with `err` (not a timeout or a cancel: the caller knows those). */
export function toConsulError(operation: string, err: unknown, endpoint: ConsulAddress): ConsulRequestError {
  const statusCode = readStatusCode(err);
  const message = err instanceof Error ? err.message : String(err);
  const tlsCode = endpoint.secure ? tlsErrorCode(err) : undefined;
  if (tlsCode) {
    // Fails closed: the request was not sent (or the agent refused our certificate). Say so plainly.
    const detail = message
      .replace(/^consul: /, '')
      .split('\n')[0]
      ?.slice(0, 300);
    return new ConsulTlsError(operation, `TLS verification failed for ${consulAddressUrl(endpoint)} (${tlsCode}): ${detail}`);
  }
  // No `cause`: the client's error holds the raw request, X-Consul-Token header included,
  // and a logger that serialises causes would print it. Status and first line are enough.
  return new ConsulRequestError(operation, message.split('\n')[0]?.slice(0, 300) ?? 'failed', statusCode);
}

function readStatusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const direct = (err as { statusCode?: unknown }).statusCode;
  if (typeof direct === 'number') return direct;
  const res = (err as { response?: { statusCode?: unknown } }).response;
  return typeof res?.statusCode === 'number' ? res.statusCode : undefined;
}
