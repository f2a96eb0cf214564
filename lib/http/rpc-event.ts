/** Reading an API Gateway event as the generic RPC route needs it: method, raw path, body, query in order, headers. */
import type { RpcRequest } from '../rpc/invoke';
import { readJsonBody, type HttpEventLike } from './event';

/** The fields of a payload v2 (httpApi) event the route reads beyond HttpEventLike. */
export interface RpcEventLike extends HttpEventLike {
  rawPath?: string;
  rawQueryString?: string;
  requestContext?: { http?: { method?: string; path?: string } };
}

/** The request the event carries; a body, when there is one, is read as readJsonBody reads it (400/413/415). */
export function rpcRequestOf(event: RpcEventLike): RpcRequest {
  const hasBody = event.body !== undefined && event.body !== null && event.body !== '';
  const query: [string, string][] =
    event.rawQueryString !== undefined
      ? [...new URLSearchParams(event.rawQueryString)]
      : Object.entries(event.queryStringParameters ?? {}).flatMap(([k, v]) =>
          v === undefined ? [] : v.split(',').map((x) => [k, x] as [string, string]),
        );
  return {
    httpMethod: event.requestContext?.http?.method ?? 'GET',
    path: event.rawPath ?? event.requestContext?.http?.path ?? '/',
    body: hasBody ? readJsonBody(event) : undefined,
    query,
    headers: event.headers ?? {},
  };
}
