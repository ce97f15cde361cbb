import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  currentContext,
  runWithContext,
  type HealthResult,
  type HttpMiddleware,
  type Logger,
  type LoggerProviderInit,
} from '@gantry/core';
import winston from 'winston';
import type Transport from 'winston-transport';
import type { ElkLoggerConfig } from './config.js';
import { ElkLogger, formats, LEVELS, type Level, LoggerCore, MESSAGE, SinkTransport, TRACE_ID } from './logger.js';
import { DISABLED, ElasticsearchShipper, LogstashShipper, type ElkShipping } from './shipping.js';

/** W3C Trace Context `traceparent`: version-traceid-parentid-flags. */
const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;
const ZERO_TRACE = '0'.repeat(32);

/** Everything the plugin runs for one application: the logger, its transports and their counters. */
export class ElkRuntime {
  readonly root: ElkLogger;
  readonly logstash: LogstashShipper | undefined;
  readonly elasticsearch: ElasticsearchShipper | undefined;
  readonly shipping: ElkShipping;
  private readonly winston: winston.Logger;
  private readonly fallback: Logger;

  constructor(
    readonly config: ElkLoggerConfig,
    init: LoggerProviderInit,
  ) {
    this.fallback = init.fallback;
    const level = (config.level ?? normalizeLevel(init.level) ?? 'info') as Level | 'silent';
    const transports: Transport[] = [];
    if (config.console.enabled) {
      const pretty =
        config.console.format === 'pretty' || (config.console.format === 'auto' && init.profile === 'embedded');
      transports.push(
        new winston.transports.Console({ format: pretty ? formats.pretty() : formats.json(), level: 'trace' }),
      );
    }
    if (config.logstash.enabled) {
      const shipper = new LogstashShipper(config.logstash, init.fallback);
      this.logstash = shipper;
      transports.push(
        new SinkTransport((info) => shipper.enqueue(info[MESSAGE] as string), {
          format: formats.json(),
          level: 'trace',
        }),
      );
    }
    if (config.elasticsearch.enabled) {
      const shipper = new ElasticsearchShipper(config.elasticsearch, init.fallback);
      this.elasticsearch = shipper;
      transports.push(
        new SinkTransport(
          (info) => shipper.enqueue({ audit: info.audit !== undefined, line: info[MESSAGE] as string }),
          { format: formats.json(), level: 'trace' },
        ),
      );
    }
    this.winston = winston.createLogger({
      levels: LEVELS,
      level: 'trace',
      format: formats.fields(),
      transports,
      exitOnError: false,
    });
    // winston re-emits transport errors on the logger: unhandled, an 'error' event would end the process.
    this.winston.on('error', (err: Error) =>
      this.fallback.error({ err: { message: err.message } }, 'elk-logger: winston reported an error'),
    );
    for (const t of transports) t.on('error', () => undefined);
    // No transport at all: nothing to write (winston would warn on every line).
    const core = new LoggerCore(this.winston, transports.length === 0 ? 'silent' : level, {
      serviceName: config.serviceName,
      serviceEnvironment: config.serviceEnvironment ?? init.profile,
    });
    this.root = new ElkLogger(core, {}, () => void this.flush(2_000));
    this.shipping = {
      stats: () => ({
        logstash: this.logstash?.stats() ?? DISABLED,
        elasticsearch: this.elasticsearch?.stats() ?? DISABLED,
      }),
      flush: (timeoutMs = 5_000) => this.flush(timeoutMs),
    };
  }

  /** Connects the transports (lines logged before are buffered, within the bound). */
  open(): void {
    this.logstash?.open();
    this.elasticsearch?.open();
  }

  async flush(timeoutMs: number): Promise<void> {
    // Let winston's stream hand over what was just logged.
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.all([this.logstash?.flush(timeoutMs), this.elasticsearch?.flush(timeoutMs)]);
  }

  async close(timeoutMs: number): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.all([this.logstash?.close(timeoutMs), this.elasticsearch?.close(timeoutMs)]);
  }

  /** Non-critical readiness: degraded while an enabled transport cannot ship or its buffer is nearly full. */
  health(): HealthResult {
    const stats = this.shipping.stats();
    const details: Record<string, unknown> = {};
    let degraded = false;
    const bounds = { logstash: this.config.logstash.bufferSize, elasticsearch: this.config.elasticsearch.bufferSize };
    for (const name of ['logstash', 'elasticsearch'] as const) {
      const s = stats[name];
      if (!s.enabled) continue;
      details[name] = s;
      if (!s.connected || s.buffered >= 0.9 * bounds[name]) degraded = true;
    }
    return { status: degraded ? 'degraded' : 'up', details };
  }

  /**
   * Per request: keeps the W3C trace id (`traceparent`) in the request context, and writes the
   * access line ("request completed") when the response closes, inside that context.
   */
  middleware(): HttpMiddleware {
    const accessLog = this.config.accessLog;
    const logger = this.root.child({ plugin: 'http' });
    return (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void => {
      const ctx = currentContext();
      if (ctx) {
        const tp = req.headers.traceparent;
        if (typeof tp === 'string') {
          const m = TRACEPARENT.exec(tp);
          if (m && m[1] !== ZERO_TRACE) ctx.set(TRACE_ID, m[1]);
        }
        if (accessLog) {
          const t0 = performance.now();
          res.once('close', () => {
            const status = res.statusCode;
            runWithContext(ctx, () =>
              logger.info(
                {
                  'http.request.method': req.method,
                  'url.path': routeOf(req),
                  'http.response.status_code': status,
                  'event.duration': Math.round((performance.now() - t0) * 1e6),
                  'event.outcome': !res.writableEnded ? 'unknown' : status < 400 ? 'success' : 'failure',
                },
                'request completed',
              ),
            );
          });
        }
      }
      next();
    };
  }
}

function routeOf(req: IncomingMessage): string {
  const r = req as { route?: { path?: unknown }; baseUrl?: string };
  const p = r.route?.path;
  return typeof p === 'string' ? `${r.baseUrl ?? ''}${p}` : '<unmatched>';
}

function normalizeLevel(level: string | undefined): string | undefined {
  if (level === undefined) return undefined;
  const l = level.toLowerCase();
  return l in LEVELS || l === 'silent' ? l : undefined;
}
