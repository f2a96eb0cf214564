/**
 * Where a function keeps what lives across its warm invocations: one slot per
 * function file, holding the function's logger and its runtime, built on the
 * first invocation of an execution environment and reused after that.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { readPowertoolsEnvironment } from '../config/environment';
import { createLogger, type Log } from '../log/logger';

/** A runtime the slot can close. */
export interface Closable {
  close(): void;
}

/** One function's per-environment state. */
export interface RuntimeSlot<R extends Closable> {
  /** The function's logger; it outlives `reset`, like the process does. */
  readonly logger: Logger;
  /** The runtime, built on first use (throws what the factory throws, and builds again next time). */
  get(): R;
  /** The runtime if built, without building it. */
  peek(): R | undefined;
  /** Closes the runtime; the next `get` starts cold (tests, shutdown). */
  reset(): void;
}

/** A slot whose runtime `create` builds with the slot's logger. */
export function runtimeSlot<R extends Closable>(create: (log: Log) => R): RuntimeSlot<R> {
  const logger = createLogger(readPowertoolsEnvironment().serviceName);
  let runtime: R | undefined;
  return {
    logger,
    get: () => (runtime ??= create(logger)),
    peek: () => runtime,
    reset() {
      runtime?.close();
      runtime = undefined;
    },
  };
}
