/** JSON responses for httpApi (payload v2) and REST events. */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** A JSON response with no-store caching. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** An empty 204 answer. */
export function noContent(): APIGatewayProxyStructuredResultV2 {
  return { statusCode: 204, headers: { 'cache-control': 'no-store' }, body: '' };
}
