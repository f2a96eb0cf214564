/**
 * What Lambda hands a function, built for calling the handlers in-process (integration tests and
 * benches) or through the Runtime Interface Emulator: an httpApi (payload v2) event and a context.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

/** A Lambda context whose deadline is `remainingMs` from now. */
export function lambdaContext(remainingMs = 10_000): Context {
  const end = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'greet',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:greet',
    memoryLimitInMB: '256',
    awsRequestId: `req-${Math.random().toString(16).slice(2)}`,
    logGroupName: '/aws/lambda/greet',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, end - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** An httpApi (payload v2) event for `GET /hello/{name}` or `POST /greet`. */
export function httpEvent(
  method: 'GET' | 'POST',
  opts: { name?: string; body?: string; headers?: Record<string, string> } = {},
): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: method === 'GET' ? 'GET /hello/{name}' : 'POST /greet',
    rawPath: method === 'GET' ? `/hello/${opts.name ?? ''}` : '/greet',
    rawQueryString: '',
    headers: opts.headers ?? (method === 'POST' ? { 'content-type': 'application/json' } : {}),
    pathParameters: method === 'GET' ? { name: opts.name } : undefined,
    body: opts.body,
    isBase64Encoded: false,
    requestContext: { http: { method, path: '/', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' } },
  } as unknown as APIGatewayProxyEventV2;
}
