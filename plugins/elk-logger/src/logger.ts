import { ecsFields, ecsStringify } from '@elastic/ecs-winston-format';
import { currentContext, type Logger } from '@gantry/core';
import winston from 'winston';
import Transport from 'winston-transport';

/** Levels of the kernel's Logger interface, most severe first (winston's convention). */
export const LEVELS = { fatal: 0, error: 1, warn: 2, info: 3, debug: 4, trace: 5 } as const;
export type Level = keyof typeof LEVELS;

/** Where the trace id of the current request is kept in its RequestContext (set by the plugin's middleware). */
export const TRACE_ID: unique symbol = Symbol('gantry.elk-logger.traceId');

/** winston's formatted-line key (triple-beam's MESSAGE). */
export const MESSAGE = Symbol.for('message');

/** Keys whose values never leave the process, at the top level and one level down (as the default logger). */
const REDACTED = new Set(['password', 'token', 'authorization', 'cookie', 'secret']);

/** What every line carries besides its own fields. */
export interface LineDefaults {
  readonly serviceName: string;
  readonly serviceEnvironment: string;
}

/** A winston transport that hands each formatted line to a function (never blocks, never throws). */
export class SinkTransport extends Transport {
  constructor(
    private readonly sink: (info: Record<string | symbol, unknown>) => void,
    options: Transport.TransportStreamOptions,
  ) {
    super(options);
  }

  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    try {
      this.sink(info);
    } catch {
      // a shipping transport never fails the caller
    }
    next();
  }
}

/** The ECS formats: fields on the logger, JSON per transport. */
export const formats = {
  fields: () => ecsFields({ convertErr: true, convertReqRes: false, apmIntegration: false }),
  json: () => ecsStringify(),
  pretty: () =>
    winston.format.printf((info) => {
      const i = info as Record<string, unknown>;
      const where = i['log.logger'] ? ` [${String(i['log.logger'])}]` : '';
      const rid = i['http.request.id'] ? ` (${String(i['http.request.id'])})` : '';
      const extra: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(i)) {
        if (PRETTY_SKIP.has(k)) continue;
        extra[k] = v;
      }
      const rest = Object.keys(extra).length ? ` ${safeJson(extra)}` : '';
      return `${String(i['@timestamp'])} ${String(i.level).toUpperCase().padEnd(5)}${where} ${String(i.message)}${rid}${rest}`;
    }),
};

const PRETTY_SKIP = new Set([
  '@timestamp',
  'level',
  'message',
  'log.level',
  'log.logger',
  'ecs.version',
  'service.name',
  'service.environment',
  'event.dataset',
  'http.request.id',
]);

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return '[unserializable]';
  }
}

/** The shared part of every logger of one application: level, defaults and the winston pipeline. */
export class LoggerCore {
  private min: number;

  constructor(
    private readonly winston: winston.Logger,
    level: Level | 'silent',
    private readonly defaults: LineDefaults,
  ) {
    this.min = level === 'silent' ? -1 : LEVELS[level];
  }

  get level(): string {
    return (Object.keys(LEVELS) as Level[]).find((l) => LEVELS[l] === this.min) ?? 'silent';
  }

  enabled(level: Level): boolean {
    return LEVELS[level] <= this.min;
  }

  write(level: Level, bindings: Readonly<Record<string, unknown>>, obj: object | string, msg?: string): void {
    if (LEVELS[level] > this.min) return;
    const info: Record<string, unknown> = { level, message: '' };
    for (const k in bindings) info[k] = bindings[k];
    let message = msg;
    if (typeof obj === 'string') message ??= obj;
    else if (obj instanceof Error) {
      info.err = obj;
      message ??= obj.message;
    } else {
      const o = obj as Record<string, unknown>;
      for (const k in o) {
        const v = o[k];
        if (REDACTED.has(k)) info[k] = '[redacted]';
        else if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Error))
          info[k] = redactOneLevel(v);
        else info[k] = v;
      }
      if (message === undefined && typeof o.msg === 'string') message = o.msg;
    }
    info.message = message ?? '';
    const ctx = currentContext();
    if (ctx) {
      info['http.request.id'] = ctx.requestId;
      const principal = ctx.principal;
      if (principal) info['user.id'] = principal.id;
      const trace = ctx.get<string>(TRACE_ID);
      if (trace) info['trace.id'] = trace;
    }
    info['service.name'] = this.defaults.serviceName;
    info['service.environment'] = this.defaults.serviceEnvironment;
    info['event.dataset'] = info.audit !== undefined ? `${this.defaults.serviceName}.audit` : this.defaults.serviceName;
    this.winston.write(info as winston.LogEntry);
  }
}

function redactOneLevel(value: object): object {
  let copy: Record<string, unknown> | undefined;
  for (const k in value) {
    if (REDACTED.has(k)) {
      copy ??= { ...(value as Record<string, unknown>) };
      copy[k] = '[redacted]';
    }
  }
  return copy ?? value;
}

/** Binding keys of the kernel's loggers, renamed to their ECS fields. */
function ecsBindings(bindings: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(bindings)) {
    if (k === 'plugin') out['log.logger'] = v;
    else if (k === 'requestId') out['http.request.id'] = v;
    else out[k] = v;
  }
  return out;
}

/** The kernel's {@link Logger} interface over winston (ECS fields). */
export class ElkLogger implements Logger {
  private readonly bindings: Readonly<Record<string, unknown>>;

  constructor(
    private readonly core: LoggerCore,
    bindings: Record<string, unknown> = {},
    private readonly onFlush: () => void = () => undefined,
    /** The bindings are already ECS-named (a child's: its parent's plus its own). */
    mapped = false,
  ) {
    this.bindings = mapped ? bindings : ecsBindings(bindings);
  }

  /** The lowest level written (pino's property name). */
  get level(): string {
    return this.core.level;
  }

  trace(obj: object | string, msg?: string): void {
    this.core.write('trace', this.bindings, obj, msg);
  }
  debug(obj: object | string, msg?: string): void {
    this.core.write('debug', this.bindings, obj, msg);
  }
  info(obj: object | string, msg?: string): void {
    this.core.write('info', this.bindings, obj, msg);
  }
  warn(obj: object | string, msg?: string): void {
    this.core.write('warn', this.bindings, obj, msg);
  }
  error(obj: object | string, msg?: string): void {
    this.core.write('error', this.bindings, obj, msg);
  }
  fatal(obj: object | string, msg?: string): void {
    this.core.write('fatal', this.bindings, obj, msg);
  }

  child(bindings: Record<string, unknown>): Logger {
    return new ElkLogger(this.core, { ...this.bindings, ...ecsBindings(bindings) }, this.onFlush, true);
  }

  /** Starts sending what the shipping transports hold (they cannot send synchronously). */
  flush(): void {
    this.onFlush();
  }
}
