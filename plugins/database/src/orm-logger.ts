import type { Logger } from '@gantry/core';
import type { LogContext, LoggerNamespace, LoggerOptions, Logger as OrmLoggerContract } from '@mikro-orm/core';

/**
 * MikroORM's logger, routed to the plugin's logger so the ORM never writes to the console.
 * Warnings and errors (e.g. a dropped PostgreSQL connection) always pass; other namespaces follow
 * MikroORM's debug mode (`debug: true` in the options enables `query`). Query lines are info so that
 * `debug: true` shows them at the default log level; parameters are never logged (they carry user data).
 */
export class OrmLogger implements OrmLoggerContract {
  private debugMode: boolean | LoggerNamespace[];

  constructor(
    private readonly logger: Logger,
    options: Pick<LoggerOptions, 'debugMode'>,
  ) {
    this.debugMode = options.debugMode ?? false;
  }

  log(namespace: LoggerNamespace | (string & {}), message: string, context?: LogContext): void {
    const text = message.replace(/\s+/g, ' ').trim();
    if (context?.level === 'error') return void this.logger.error({ namespace }, `[orm:${namespace}] ${text}`);
    if (context?.level === 'warning') return void this.logger.warn({ namespace }, `[orm:${namespace}] ${text}`);
    if (!this.isEnabled(namespace as LoggerNamespace, context)) return;
    if (namespace === 'query' || namespace === 'slow-query')
      this.logger.info({ namespace }, `[orm:${namespace}] ${text}`);
    else this.logger.debug({ namespace }, `[orm:${namespace}] ${text}`);
  }

  error(namespace: LoggerNamespace | (string & {}), message: string, context?: LogContext): void {
    this.log(namespace, message, { ...context, level: 'error' });
  }

  warn(namespace: LoggerNamespace | (string & {}), message: string, context?: LogContext): void {
    this.log(namespace, message, { ...context, level: 'warning' });
  }

  logQuery(context: LogContext): void {
    const namespace = context.namespace ?? 'query';
    if (context.level !== 'error' && !this.isEnabled(namespace, context)) return;
    const fields = {
      namespace,
      sql: context.query,
      tookMs: context.took,
      results: context.results,
      affected: context.affected,
    };
    if (context.level === 'error') this.logger.debug(fields, `[orm:${namespace}] failed: ${context.query ?? ''}`);
    else this.logger.info(fields, `[orm:${namespace}] ${context.query ?? ''}`);
  }

  setDebugMode(debugMode: boolean | LoggerNamespace[]): void {
    this.debugMode = debugMode;
  }

  isEnabled(namespace: LoggerNamespace, context?: LogContext): boolean {
    if (context?.enabled !== undefined) return context.enabled;
    const mode = context?.debugMode ?? this.debugMode;
    return mode === true || (Array.isArray(mode) && mode.includes(namespace));
  }
}
