/**
 * Structured logging (Powertools). Each function's runtime slot creates one
 * logger and hands it to the parts it builds, so nothing logs through a
 * module-scope singleton.
 *
 * Tokens never reach a log: config and Consul code redact them first, and
 * `errorSummary` keeps stack traces out of log lines for expected errors.
 */
import { Logger, LogLevelThreshold } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions, LogItemExtraInput, LogItemMessage } from '@aws-lambda-powertools/logger/types';
import { invocationTraceId } from './invocation-trace';

/** Attributes of one log line. Powertools reserves `service`, `level`, `message`, `timestamp`: never use them. */
export type LogAttributes = Record<string, unknown>;

/** What the parts of a function need from a logger (a Powertools Logger is one). */
export interface Log {
  debug(message: string, ...attributes: LogAttributes[]): void;
  info(message: string, ...attributes: LogAttributes[]): void;
  warn(message: string, ...attributes: LogAttributes[]): void;
  error(message: string, ...attributes: LogAttributes[]): void;
}

/**
 * A Powertools Logger whose `debug` checks the level before anything else, and whose lines carry the
 * invocation's W3C `trace_id` (lib/log/invocation-trace.ts) beside Powertools' `xray_trace_id`.
 *
 * Powertools reads the X-Ray header from the environment and looks up its per-invocation stores before
 * its own level check, a few microseconds per line that a warm call (one `debug` each) paid for a line
 * it never wrote. `level` is the level in effect for this invocation (sampling and Lambda's log level
 * included); we configure no log buffer, the one feature that keeps lines below the level.
 *
 * `trace_id` is added as the line is built, not with `appendKeys` at every invocation: most
 * invocations write no line, and the keys Powertools keeps per invocation cost on each of them.
 */
class LevelCheckedLogger extends Logger {
  override debug(input: LogItemMessage, ...extraInput: LogItemExtraInput): void {
    if (this.level <= LogLevelThreshold.DEBUG) super.debug(input, ...extraInput);
  }

  protected override createAndPopulateLogItem(logLevel: number, input: LogItemMessage, extraInput: LogItemExtraInput) {
    const traceId = invocationTraceId();
    if (!traceId) return super.createAndPopulateLogItem(logLevel, input, extraInput);
    // First among the extra attributes, so one a caller passes by the same name still wins. Powertools reads the
    // items one by one whatever their mix; its type only lists the mixes a caller of info()/warn() may write.
    const traced = [{ trace_id: traceId }, ...extraInput] as unknown as LogItemExtraInput;
    return super.createAndPopulateLogItem(logLevel, input, traced);
  }

  // Child loggers (createChild) stamp the trace id too.
  protected override createLogger(options?: ConstructorOptions): Logger {
    return new LevelCheckedLogger(options);
  }
}

/** A logger named `serviceName` (the runtime reads POWERTOOLS_SERVICE_NAME), else `consul-grpc-lambda`; its level comes from POWERTOOLS_LOG_LEVEL. */
export function createLogger(serviceName?: string): Logger {
  return new LevelCheckedLogger({ serviceName: serviceName ?? 'consul-grpc-lambda' });
}

/** A logger that drops everything (unit tests, benchmarks). */
export const silentLog: Log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Name and message of an error, without its stack, for log attributes. */
export function errorSummary(err: unknown): { name: string; message: string } {
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'NonError', message: String(err) };
}
