/**
 * The functions' HTTP API in tests: serverless-offline in front of a test stack, with the instance
 * registry on (its own Consul token, a fresh API key and signing key), and the one way the tests
 * call it.
 */
import { randomBytes } from 'node:crypto';
import { startOffline, type OfflineServer } from '../../scripts/stack/offline';
import { stopProcess } from '../../scripts/stack/processes';
import type { TestStack } from './harness';

/** An answer of the API: status, headers, the body parsed as JSON (`{ raw }` when it is not JSON) and as text. */
export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

/** A call: a JSON `body` (or a `raw` one), extra `headers`, and `noKey` to leave the API key out. */
export interface ApiCallOptions {
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  noKey?: boolean;
}

/** Calls `baseUrl + path` as JSON with `apiKey` (unless `noKey`), within 10 s. */
export async function callApi(
  baseUrl: string,
  apiKey: string,
  method: string,
  path: string,
  opts: ApiCallOptions = {},
): Promise<ApiAnswer> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(opts.noKey ? {} : { 'x-api-key': apiKey }), ...opts.headers },
    body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    if (text) body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { raw: text };
  }
  return { status: res.status, headers: res.headers, body, text };
}

/** serverless-offline serving a test stack, and calls to it. */
export interface OfflineApi {
  server: OfflineServer;
  apiKey: string;
  call(method: string, path: string, opts?: ApiCallOptions): Promise<ApiAnswer>;
  stop(): Promise<void>;
}

/** Starts serverless-offline for `stack`, the registry on with `registryToken`; resolves when it listens. */
export async function startOfflineApi(stack: TestStack, registryToken: string, extraEnv?: Record<string, string>): Promise<OfflineApi> {
  const apiKey = randomBytes(24).toString('hex');
  const server = await startOffline({
    consulAddress: stack.consul.address,
    gatewayToken: stack.gatewayToken,
    registry: { consulToken: registryToken, signingKey: randomBytes(32).toString('hex'), apiKey },
    extraEnv,
  });
  return {
    server,
    apiKey,
    call: (method, path, opts) => callApi(server.baseUrl, apiKey, method, path, opts),
    stop: async () => void (await stopProcess(server.process, 'SIGTERM')),
  };
}
