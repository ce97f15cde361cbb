import type { Logger } from '@gantry/core';

/** One log line as {@link memoryLogger} keeps it. */
export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

/** A logger that keeps every line (level, message, fields) in `lines`, for tests that assert on logs. */
export function memoryLogger(lines: LogLine[]): Logger {
  const write =
    (level: string) =>
    (obj: object | string, msg?: string): void =>
      void lines.push(
        typeof obj === 'string'
          ? { level, msg: obj, fields: {} }
          : { level, msg: msg ?? '', fields: obj as Record<string, unknown> },
      );
  const logger: Logger = {
    trace: write('trace'),
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    fatal: write('fatal'),
    child: () => logger,
  };
  return logger;
}
