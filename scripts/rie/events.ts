/**
 * The events `npm run invoke:rie` sends: a default per function that succeeds against the local
 * stack, and `--data`, which is either a whole event (sent as given) or, for the API functions, a
 * request `{"method","path","headers","body"}` turned into the event that function's trigger sends
 * (API Gateway httpApi payload v2 for greet, REST payload v1 for status and instances), with the
 * route's `routeKey` or `resource` and path parameters filled in as API Gateway fills them.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** A request as a user writes it; `body` may be JSON (sent as its text) or text. */
export interface RequestShorthand {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
}

type Payload = 'httpApi' | 'rest';
/** The routes of serverless.yml, per function (a `{name}` segment is a path parameter); a unit test keeps them in step. */
export const API_ROUTES: Record<string, { payload: Payload; routes: string[] }> = {
  greet: { payload: 'httpApi', routes: ['GET /hello/{name}', 'POST /greet'] },
  status: { payload: 'rest', routes: ['GET /status'] },
  instances: {
    payload: 'rest',
    routes: ['POST /instances', 'GET /instances', 'PUT /instances/{id}/heartbeat', 'DELETE /instances/{id}'],
  },
  // Its catch-all (any method, /{proxy+}) takes whole events only.
  rpc: { payload: 'httpApi', routes: ['POST /rpc/{service}/{method}'] },
};
const ROUTES = API_ROUTES;

/** What each function gets without --data; every one answers 2xx against `npm start`. */
const DEFAULTS: Record<string, RequestShorthand | Record<string, unknown>> = {
  greet: { method: 'GET', path: '/hello/World' },
  status: { method: 'GET', path: '/status' },
  // A service the local registry allows (prefix ephemeral-); an empty list is still a 200.
  instances: { method: 'GET', path: '/instances?service=ephemeral-job' },
  healthSync: { dryRun: true },
};

/** Names of the functions that have a default event. */
export const FUNCTIONS_WITH_DEFAULTS = Object.keys(DEFAULTS);

/** The event for `fn`: from `data` (JSON text, or @file holding it) when given, else the default. */
export function eventFor(fn: string, data: string | undefined): unknown {
  if (data === undefined) {
    const d = DEFAULTS[fn];
    if (!d) throw new Error(`no default event for "${fn}" (functions with one: ${FUNCTIONS_WITH_DEFAULTS.join(', ')}); pass --data`);
    return ROUTES[fn] ? requestEvent(fn, d as RequestShorthand) : d;
  }
  const text = data.startsWith('@') ? readFileSync(resolve(process.env.INIT_CWD || process.cwd(), data.slice(1)), 'utf8') : data;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`--data is not valid JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return ROUTES[fn] && isShorthand(parsed) ? requestEvent(fn, parsed) : parsed;
}

/** A request, not an event: it has a path and none of the fields an API Gateway event has. */
function isShorthand(v: unknown): v is RequestShorthand {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return typeof o.path === 'string' && !['httpMethod', 'requestContext', 'version', 'rawPath', 'resource'].some((k) => k in o);
}

/** The API Gateway event `fn`'s trigger sends for `req`; throws naming the routes when none matches. */
export function requestEvent(fn: string, req: RequestShorthand): Record<string, unknown> {
  const api = ROUTES[fn];
  if (!api) throw new Error(`${fn} has no HTTP route; pass the event itself with --data`);
  const method = (req.method ?? 'GET').toUpperCase();
  const url = new URL(req.path, 'http://localhost');
  const matched = api.routes.map((r) => matchRoute(r, method, url.pathname)).find((m) => m !== undefined);
  if (!matched) throw new Error(`${method} ${url.pathname} is no route of ${fn}; its routes: ${api.routes.join(', ')}`);
  const body = req.body === undefined || req.body === null ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
  const headers = { ...(body !== undefined && typeof req.body !== 'string' ? { 'content-type': 'application/json' } : {}), ...req.headers };
  const query = url.searchParams.size ? Object.fromEntries(url.searchParams) : undefined;
  const sourceIp = '127.0.0.1';
  if (api.payload === 'httpApi')
    return {
      version: '2.0',
      routeKey: matched.route,
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      ...(query ? { queryStringParameters: query } : {}),
      ...(matched.params ? { pathParameters: matched.params } : {}),
      ...(body !== undefined ? { body } : {}),
      isBase64Encoded: false,
      requestContext: { http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp, userAgent: 'invoke-rie' } },
    };
  return {
    resource: matched.route.slice(matched.route.indexOf(' ') + 1),
    path: url.pathname,
    httpMethod: method,
    headers,
    queryStringParameters: query ?? null,
    pathParameters: matched.params ?? null,
    body: body ?? null,
    isBase64Encoded: false,
    // API Gateway names the caller's API key by its id on API-key routes (the registry scopes quotas by it).
    requestContext: { identity: { apiKeyId: 'invoke-rie', sourceIp }, stage: 'local' },
  };
}

function matchRoute(route: string, method: string, path: string): { route: string; params?: Record<string, string> } | undefined {
  const [routeMethod, routePath = ''] = route.split(' ');
  if (routeMethod !== method) return undefined;
  const want = routePath.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, seg] of want.entries()) {
    const value = got[i] ?? '';
    const name = /^\{(\w+)\}$/.exec(seg)?.[1];
    if (name) {
      if (!value) return undefined;
      params[name] = decodeURIComponent(value);
    } else if (seg !== value) return undefined;
  }
  return Object.keys(params).length ? { route, params } : { route };
}
