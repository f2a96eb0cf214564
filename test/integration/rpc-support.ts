/**
 * What the rpc tests and the rpc bench share on top of the harness: Echo backends (real
 * greeter-service/echo-main.ts processes registered in Consul), the rpc function's least-privilege
 * token (made by scripts/stack/tokens.ts, as the local stack makes it), payload v2 events for any
 * path, and grpcurl, the reference client.
 */
import { execFile } from 'node:child_process';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { handler as rpcHandler } from '../../functions/rpc';
import type { ConsulApi } from '../../lib/consul/consul-api';
import { rpcToken, RPC_LEASE_SERVICE } from '../../scripts/stack/tokens';
import { startEcho, type GreeterBackend } from '../../scripts/stack/greeters';
import { lambdaContext } from '../../scripts/support/lambda-events';

/** The rpc function's K/V prefix in the tests. */
export const RPC_PREFIX = 'config/rpc-gateway/test/';
export { RPC_LEASE_SERVICE };

/** A running Echo backend (scripts/stack/greeters.ts starts it, as the local stack does). */
export type EchoBackend = GreeterBackend;
export { startEcho };

/** The rpc function's token: its config under `prefix`, the given services, its lease (and Connect identity). */
export const provisionRpcToken = (admin: ConsulApi, services: readonly string[], prefix = RPC_PREFIX): Promise<string> =>
  rpcToken(admin, prefix, services);

/** Points the in-process rpc function at the stack, as serverless.yml does for a deployed one. */
export function useRpcEnvironment(address: string, token: string): void {
  process.env.CONSUL_HTTP_ADDR = address;
  process.env.CONSUL_HTTP_TOKEN = token;
  process.env.CONFIG_PREFIX = RPC_PREFIX;
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
}

/** A payload v2 (httpApi) event for `method` on `pathAndQuery`, a JSON body if given. */
export function rpcEvent(
  method: string,
  pathAndQuery: string,
  opts: { body?: unknown; headers?: Record<string, string> } = {},
): APIGatewayProxyEventV2 {
  const [rawPath = '/', rawQueryString = ''] = pathAndQuery.split('?', 2);
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers: { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    isBase64Encoded: false,
    requestContext: { http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' } },
  } as unknown as APIGatewayProxyEventV2;
}

/** The rpc function's answer, called in-process as Lambda calls it. */
export async function callRpc(
  method: string,
  pathAndQuery: string,
  opts: { body?: unknown; headers?: Record<string, string>; remainingMs?: number } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: unknown; raw: string }> {
  const res = await rpcHandler(rpcEvent(method, pathAndQuery, opts), lambdaContext(opts.remainingMs));
  const raw = res.body ?? '';
  return { status: res.statusCode ?? 0, headers: res.headers ?? {}, body: raw ? (JSON.parse(raw) as unknown) : undefined, raw };
}

/** grpcurl's answer to `method` with JSON `data` (`-format json`; errors as JSON with `-format-error`). */
export function grpcurl(
  bin: string,
  port: number,
  method: string,
  data: unknown,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const args = [
    '-plaintext',
    '-max-time',
    '10',
    '-format',
    'json',
    '-format-error',
    '-d',
    JSON.stringify(data),
    `127.0.0.1:${port}`,
    method,
  ];
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}
