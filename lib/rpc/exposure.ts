/**
 * What the route exposes (pure): methods only when the allow-list names them (`package.Service/Method`,
 * or `package.Service/*` for all of a service's methods), and request headers as gRPC metadata only
 * when the header allow-list names them. Some headers never pass, whatever the list says: credentials
 * meant for this gateway, hop-by-hop headers, API Gateway's and Lambda's own, and gRPC's reserved ones.
 */

/** The allow-list entry form: `package.Service/Method` or `package.Service/*`. */
export const ALLOW_ENTRY = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\/([A-Za-z_][A-Za-z0-9_]*|\*)$/;

/** Whether `method` (`package.Service/Method`) is on `allow`. */
export function isAllowed(allow: readonly string[], method: string): boolean {
  const slash = method.indexOf('/');
  return allow.includes(method) || (slash > 0 && allow.includes(`${method.slice(0, slash)}/*`));
}

/** Headers that are never forwarded (RFC 9110 §7.6.1 hop-by-hop, credentials, framing, gRPC's own). */
const NEVER = new Set([
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'cookie',
  'set-cookie',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'content-type',
  'user-agent',
  'forwarded',
]);

/** Why `name` may never be forwarded, or undefined when it may be listed. */
export function forbiddenHeader(name: string): string | undefined {
  const n = name.toLowerCase();
  if (NEVER.has(n)) return `${n} is a credential, hop-by-hop or framing header`;
  if (n.startsWith('x-amzn-') || n.startsWith('x-amz-')) return `${n} belongs to AWS`;
  if (n.startsWith('grpc-') || n.startsWith(':')) return `${n} is reserved by gRPC`;
  if (n.endsWith('-bin')) return `${n} is binary metadata`;
  if (n.startsWith('x-forwarded-')) return `${n} is set by proxies`;
  return undefined;
}

/** The metadata entries of the request headers that `allow` names (lower-cased), forbidden ones never. */
export function forwardedMetadata(
  headers: Record<string, string | undefined> | null | undefined,
  allow: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  if (!allow.length || !headers) return out;
  for (const [k, v] of Object.entries(headers)) {
    const name = k.toLowerCase();
    if (v === undefined || !allow.includes(name) || forbiddenHeader(name)) continue;
    out[name] = v;
  }
  return out;
}
