import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from '@aws-lambda-powertools/logger';
import { InvokeStore } from '@aws/lambda-invoke-store';
import { setInvocationTraceId } from '../../../lib/log/invocation-trace';
import { createLogger } from '../../../lib/log/logger';

/** The JSON lines written to stdout and stderr (Powertools writes warnings there) while `run` runs. */
function linesOf(run: () => void): Array<Record<string, unknown>> {
  const lines: string[] = [];
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((s) => s.write.bind(s));
  for (const s of streams) s.write = ((chunk: string | Uint8Array) => (lines.push(String(chunk)), true)) as typeof s.write;
  try {
    run();
  } finally {
    streams.forEach((s, i) => (s.write = writes[i] as typeof s.write));
  }
  return lines.flatMap((l) => l.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Counts the calls that reach Powertools' own line building. */
function countBuilt(logger: Logger): { n: number } {
  const seen = { n: 0 };
  const inner = logger as unknown as { processLogItem: (...args: unknown[]) => void };
  const original = inner.processLogItem.bind(logger);
  inner.processLogItem = (...args) => {
    seen.n++;
    original(...args);
  };
  return seen;
}

describe('createLogger', () => {
  it('drops a debug line below the level before Powertools builds it, and writes it once the level allows', () => {
    const logger = createLogger('logger-test');
    logger.setLogLevel('INFO');
    const built = countBuilt(logger);
    assert.deepEqual(
      linesOf(() => logger.debug('hidden', { a: 1 })),
      [],
    );
    assert.equal(built.n, 0, 'a disabled debug line costs one level check');
    logger.setLogLevel('DEBUG');
    const [line] = linesOf(() => logger.debug('shown', { a: 1 }));
    assert.equal(line?.level, 'DEBUG');
    assert.equal(line?.message, 'shown');
    assert.equal(line?.a, 1);
    assert.equal(line?.service, 'logger-test');
    assert.equal(built.n, 1);
  });

  it('leaves the other levels to Powertools', () => {
    const logger = createLogger();
    logger.setLogLevel('WARN');
    assert.deepEqual(
      linesOf(() => logger.info('hidden')),
      [],
    );
    const [line] = linesOf(() => logger.warn('shown'));
    assert.equal(line?.level, 'WARN');
    assert.equal(line?.service, 'consul-grpc-lambda');
  });

  it("stamps the invocation's trace_id on the lines it writes (child loggers too), and none once an invocation has no trace", () => {
    const logger = createLogger('trace-test');
    logger.setLogLevel('INFO');
    try {
      setInvocationTraceId('4bf92f3577b34da6a3ce929d0e0e4736');
      const [line] = linesOf(() => logger.info('traced', { a: 1 }));
      assert.equal(line?.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal(line?.a, 1);
      const [child] = linesOf(() => logger.createChild({ serviceName: 'child' }).warn('from a child'));
      assert.equal(child?.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
      setInvocationTraceId(undefined);
      const [plain] = linesOf(() => logger.info('untraced'));
      assert.equal(plain !== undefined && 'trace_id' in plain, false);
    } finally {
      setInvocationTraceId(undefined);
    }
  });

  it("keeps concurrent invocations' trace ids apart in Lambda's InvokeStore (Managed Instances)", async () => {
    // The runtime's own store, as the RIC creates it when AWS_LAMBDA_MAX_CONCURRENCY is set (an AsyncLocalStorage).
    const store = await InvokeStore.getInstanceAsync(true);
    const logger = createLogger('concurrent-test');
    logger.setLogLevel('INFO');
    const lines: Array<Record<string, unknown>> = [];
    const invocation = (requestId: string, traceId: string) =>
      store.run({}, async () => {
        setInvocationTraceId(traceId);
        // Both invocations have set their id before either logs.
        await new Promise((resolve) => setImmediate(resolve));
        lines.push(...linesOf(() => logger.info('in flight', { requestId })));
      });
    try {
      await Promise.all([invocation('a', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'), invocation('b', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb')]);
      assert.deepEqual(lines.map((l) => [l.requestId, l.trace_id]).sort(), [
        ['a', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'],
        ['b', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'],
      ]);
    } finally {
      delete (globalThis as { awslambda?: { InvokeStore?: unknown } }).awslambda?.InvokeStore;
    }
  });
});
