/** A Log that keeps every line, for tests that assert what was logged. */
import type { Log, LogAttributes } from '../../../lib/log/logger';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogLine {
  level: LogLevel;
  message: string;
  attributes: LogAttributes;
}

export interface RecordingLog extends Log {
  readonly lines: LogLine[];
  /** Messages of `level` (every level when omitted), in order. */
  messages(level?: LogLevel): string[];
}

export function recordingLog(): RecordingLog {
  const lines: LogLine[] = [];
  const log: RecordingLog = {
    lines,
    messages: (level) => lines.filter((l) => level === undefined || l.level === level).map((l) => l.message),
    debug: (message, ...a) => record('debug', message, a),
    info: (message, ...a) => record('info', message, a),
    warn: (message, ...a) => record('warn', message, a),
    error: (message, ...a) => record('error', message, a),
  };
  function record(level: LogLevel, message: string, attributes: LogAttributes[]): void {
    lines.push({ level, message, attributes: Object.assign({}, ...attributes) as LogAttributes });
  }
  return log;
}
