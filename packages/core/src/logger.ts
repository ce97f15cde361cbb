import { pino, type Logger as PinoLogger, type LoggerOptions } from 'pino';

/** Structured logger every plugin receives. Its shape is pino's, so pino or a winston adapter fit. */
export interface Logger {
  trace(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  fatal(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
  /** Writes buffered lines; called at shutdown. */
  flush?(): void;
}

/** Options of the default logger. */
export interface LoggerFactoryOptions {
  level?: string;
  /**
   * Write asynchronously (default true): a line is handed to stdout without blocking the caller, and
   * lines logged while a write is in flight go out together with the next one. Nothing waits for a
   * buffer to fill, so a line shows up while the process runs. false writes synchronously.
   */
  async?: boolean;
  /** Extra pino options (e.g. a transport, redact paths). */
  pino?: LoggerOptions;
}

/** Builds the default JSON logger (pino, asynchronous stdout, secrets redacted). */
export function createLogger(options: LoggerFactoryOptions = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const destination = pino.destination({ dest: 1, sync: options.async === false });
  const base: LoggerOptions = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'password',
        '*.password',
        'token',
        '*.token',
        'authorization',
        '*.authorization',
        'cookie',
        '*.cookie',
        'secret',
        '*.secret',
      ],
      censor: '[redacted]',
    },
    ...options.pino,
  };
  const logger: PinoLogger = pino(base, destination);
  // pino's own flush() is asynchronous; at shutdown the process exits right after, so flush synchronously.
  Object.defineProperty(logger, 'flush', {
    value: () => {
      try {
        destination.flushSync();
      } catch {
        // nothing buffered, or stdout already closed
      }
    },
  });
  return logger as unknown as Logger;
}

/** A logger that discards everything (tests). */
export function silentLogger(): Logger {
  // A no-op stream: pino's default stdout stream would register a process 'exit' listener.
  return pino({ level: 'silent' }, { write() {} }) as unknown as Logger;
}
