import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from '@aws-lambda-powertools/logger';
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
});
