/**
 * Integration harness: the shared function stack (scripts/stack/function-stack.ts: a real Consul
 * dev agent with ACLs, default deny, and real Greeter backends), in-process calls of the greet
 * function, and the cleanup a killed test run needs. Everything a stack starts is stopped by
 * `stop()`, which test files call from `after()`, so it runs when tests fail too.
 */
import { handler as greetHandler } from '../../functions/greet';
import { startFunctionStack, useFunctionEnvironment, type FunctionStack } from '../../scripts/stack/function-stack';
import { PASSING_WAIT_MS, passingIds } from '../../scripts/stack/passing';
import { onTermination, sweepStale } from '../../scripts/stack/lifecycle';
import { stopAll } from '../../scripts/stack/processes';
import { eventually } from '../../scripts/support/poll-until';
import { httpEvent, lambdaContext } from '../../scripts/support/lambda-events';

// What the test files take from here lives where the benches (and scripts) can use it too.
export { eventually, httpEvent, lambdaContext, PASSING_WAIT_MS, passingIds, useFunctionEnvironment };

// What a killed test run left (temp dirs with tokens or keys whose owner is gone, orphans) goes first.
sweepStale();
// SIGTERM, SIGHUP, Ctrl-C or the test runner gone (e.g. `kill` of `npm run test:integration`): stop
// every process this file started and remove its temp dirs (an exit handler in lifecycle.ts) before
// leaving; after a SIGKILL the watchdog does the same.
onTermination(() => {
  void stopAll(2_000).finally(() => process.exit(1));
});

/** A running test stack (the stack the benches use too). */
export type TestStack = FunctionStack;

/** Starts Consul, provisions least-privilege tokens for the functions and backends. */
export const startTestStack = startFunctionStack;

/** Points this process's SSM client (the functions' secret reads) at moto, with moto's test credentials. */
export function useMotoSsm(endpoint: string): void {
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_SSM: endpoint,
  });
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
