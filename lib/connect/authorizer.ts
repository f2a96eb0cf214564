/**
 * Connect intentions for a Connect-native server: may the caller (a SPIFFE URI from its client
 * certificate) call `target`? Asks the local agent (`POST /v1/agent/connect/authorize`, which answers
 * from its own intention cache) and keeps each answer for `cacheMs`, so an intention change applies
 * within that time without a restart.
 */
import type { ConsulApi } from '../consul/consul-api';

/** One authorization answer. */
export interface AuthorizeResult {
  authorized: boolean;
  reason: string;
}

/** Authorizes callers of one target service. */
export interface ConnectAuthorizer {
  authorize(clientCertUri: string, clientCertSerial: string): Promise<AuthorizeResult>;
}

/** An authorizer for `target` through `api` (whose token needs `service:write` on `target`). */
export function createConnectAuthorizer(
  api: ConsulApi,
  target: string,
  opts: { cacheMs?: number; now?: () => number } = {},
): ConnectAuthorizer {
  const cacheMs = opts.cacheMs ?? 1_000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { at: number; result: Promise<AuthorizeResult> }>();
  return {
    authorize(clientCertUri, clientCertSerial) {
      const hit = cache.get(clientCertUri);
      if (hit && now() - hit.at < cacheMs) return hit.result;
      const result = (async (): Promise<AuthorizeResult> => {
        const raw = (await api.request(
          'consul.agent.connect.authorize',
          { timeoutMs: 2_000 },
          {
            method: 'POST',
            path: '/agent/connect/authorize',
            body: { Target: target, ClientCertURI: clientCertUri, ClientCertSerial: clientCertSerial },
          },
        )) as { Authorized?: boolean; Reason?: string } | undefined;
        return { authorized: raw?.Authorized === true, reason: raw?.Reason ?? '' };
      })();
      cache.set(clientCertUri, { at: now(), result });
      // A failed lookup is not remembered: the next call asks again.
      result.catch(() => cache.delete(clientCertUri));
      if (cache.size > 1_000) cache.delete(cache.keys().next().value as string);
      return result;
    },
  };
}
