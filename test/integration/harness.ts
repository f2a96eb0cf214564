/**
 * Integration harness: a real Consul dev agent with ACLs (default deny), real
 * Greeter backends and, when asked, the real serverless-offline. Everything a
 * stack starts is stopped by `stop()`, which test files call from `after()`,
 * so it runs when tests fail too.
 */
import type { Context } from 'aws-lambda';
import { handler as greetHandler } from '../../functions/greet';
import { gatewayTokens } from '../../scripts/stack/tokens';
import { createConsulApi, type ConsulApi } from '../../lib/consul/consul-api';
import { kvPut } from '../../lib/consul/kv';
import { startConsulAgent, type ConsulAgent } from '../../scripts/stack/consul-agent';
import { startGreeter, type GreeterBackend, type GreeterOptions } from '../../scripts/stack/greeters';
import { passingIds } from '../../scripts/stack/passing';
import { onTermination, sweepStale } from '../../scripts/stack/lifecycle';
import { stopAll, stopProcess } from '../../scripts/stack/processes';
import { eventually } from '../../scripts/support/poll-until';

export { passingIds };
// The one wait-on-a-condition of the stack, tests and benches; test files import it from here or there.
export { eventually };

// What a killed test run left (temp dirs with tokens or keys whose owner is gone, orphans) goes first.
sweepStale();
// SIGTERM, SIGHUP, Ctrl-C or the test runner gone (e.g. `kill` of `npm run test:integration`): stop
// every process this file started and remove its temp dirs (an exit handler in lifecycle.ts) before
// leaving; after a SIGKILL the watchdog does the same.
onTermination(() => {
  void stopAll(2_000).finally(() => process.exit(1));
});

/** A running test stack. */
export interface TestStack {
  consul: ConsulAgent;
  /** Management-token client for arranging state (never given to functions). */
  admin: ConsulApi;
  prefix: string;
  gatewayToken: string;
  backendToken: string;
  greeters: GreeterBackend[];
  addGreeter(o: Omit<GreeterOptions, 'consulAddress' | 'token'>): Promise<GreeterBackend>;
  /** A backend that serves but does not register itself. */
  addGreeterUnregistered(o: { id: string }): Promise<GreeterBackend>;
  setConfig(values: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

/** Starts Consul, provisions least-privilege tokens for the functions and backends. */
export async function startTestStack(prefix = 'config/greeter-gateway/test/'): Promise<TestStack> {
  const consul = await startConsulAgent();
  const greeters: GreeterBackend[] = [];
  const admin = createConsulApi({ address: consul.address, token: consul.managementToken });
  try {
    const { gatewayToken, backendToken } = await gatewayTokens(admin, prefix, 'both');
    const stack: TestStack = {
      consul,
      admin,
      prefix,
      gatewayToken,
      backendToken,
      greeters,
      async addGreeter(o) {
        const g = await startGreeter({ ...o, consulAddress: consul.address, token: backendToken });
        greeters.push(g);
        // A new instance's gRPC check starts critical; wait for its first pass.
        await eventually(async () => (await passingIds(admin, o.service ?? 'greeter')).includes(o.id), 10_000, `${o.id} passing in Consul`);
        return g;
      },
      async addGreeterUnregistered(o) {
        const g = await startGreeter({ ...o, register: false, consulAddress: consul.address, token: '' });
        greeters.push(g);
        return g;
      },
      async setConfig(values) {
        for (const [k, v] of Object.entries(values)) await kvPut(admin, `${prefix}${k}`, v);
      },
      async stop() {
        await Promise.all(greeters.map((g) => stopProcess(g.process, 'SIGKILL')));
        admin.destroy();
        await consul.stop();
      },
    };
    return stack;
  } catch (err) {
    admin.destroy();
    await consul.stop();
    throw err;
  }
}

/** Points the in-process functions at the stack, as serverless.yml does for a deployed function. */
export function useFunctionEnvironment(stack: TestStack, address = stack.consul.address): void {
  process.env.CONSUL_HTTP_ADDR = address;
  process.env.CONSUL_HTTP_TOKEN = stack.gatewayToken;
  process.env.CONFIG_PREFIX = stack.prefix;
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
}

/** A Lambda context with `remainingMs` left. */
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
export function httpEvent(method: 'GET' | 'POST', opts: { name?: string; body?: string; headers?: Record<string, string> } = {}) {
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
  } as unknown as import('aws-lambda').APIGatewayProxyEventV2;
}

/** The greet function's JSON answer: a greeting, or an error. */
export type GreetBody = Record<string, unknown> & {
  message?: string;
  attempts?: number;
  servedBy?: { id: string; address?: string; port?: number; datacenter?: string };
  error?: { code: string; message: string };
};

/** Calls the greet function in-process, as Lambda does, for `GET /hello/{name}`: its status, headers and parsed body. */
export async function invokeGreet(
  name: string,
  remainingMs?: number,
): Promise<{ status: number; headers: Record<string, unknown>; body: GreetBody }> {
  const res = await greetHandler(httpEvent('GET', { name }), lambdaContext(remainingMs));
  return { status: res.statusCode ?? 0, headers: res.headers ?? {}, body: JSON.parse(res.body ?? '{}') as GreetBody };
}

/**
 * Runs `fn` while collecting what the process writes to stdout and stderr (the logger writes
 * warnings and errors to stderr); `logLines` are the logger's JSON lines among them.
 */
export async function captureOutput<T>(fn: () => Promise<T>): Promise<{ result: T; output: string; logLines: string[] }> {
  const chunks: string[] = [];
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((s) => s.write.bind(s));
  streams.forEach((stream, i) => {
    stream.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      chunks.push(String(chunk));
      return writes[i]!(chunk, ...rest);
    }) as typeof stream.write;
  });
  try {
    const result = await fn();
    // Chunk by chunk: the test runner writes its own (binary) events to stdout in between.
    const logLines = chunks.flatMap((c) => c.split('\n')).filter((l) => l.startsWith('{"level":'));
    return { result, output: chunks.join(''), logLines };
  } finally {
    streams.forEach((stream, i) => (stream.write = writes[i]!));
  }
}
