/** Shape of one entry in a package's error registry. */
export interface ErrorSpec {
  /** HTTP status the error maps to when it reaches a client. */
  readonly status: number;
  /** Short, stable, human title (RFC 9457 `title`). */
  readonly title: string;
  /** The likely fix, appended to messages meant for developers and operators. */
  readonly fix?: string;
}

/** Options accepted when creating a coded error. */
export interface GantryErrorOptions {
  readonly details?: Record<string, unknown>;
  readonly cause?: unknown;
  /** Extra response headers (e.g. `Retry-After`) the HTTP layer sends with the problem. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Overrides the registry's fix for this instance. */
  readonly fix?: string;
}

/** The one error type of Gantry: a stable code, an HTTP status, a message, details and a cause. */
export class GantryError extends Error {
  override readonly name = 'GantryError';
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly details: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly fix: string | undefined;

  constructor(code: string, spec: ErrorSpec, message: string, options: GantryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = spec.status;
    this.title = spec.title;
    this.details = options.details ?? {};
    this.headers = options.headers ?? {};
    this.fix = options.fix ?? spec.fix;
  }

  /** True when `value` is a GantryError, also across duplicated copies of this package. */
  static is(value: unknown): value is GantryError {
    return (
      value instanceof GantryError ||
      (value instanceof Error &&
        (value as { name?: string }).name === 'GantryError' &&
        typeof (value as { code?: unknown }).code === 'string')
    );
  }
}

/** A factory for one registered code: `errors.NOT_FOUND('message', { details })`. */
export interface ErrorFactory {
  (message: string, options?: GantryErrorOptions): GantryError;
  readonly code: string;
  readonly spec: ErrorSpec;
  /** True when `value` is a GantryError carrying this code. */
  is(value: unknown): value is GantryError;
}

/**
 * A 4xx is an answer to the caller, not a fault of ours: it is never logged with a stack, so none is
 * captured (V8 walks and records up to `Error.stackTraceLimit` frames at construction, ~2 µs, the
 * largest single cost of answering a flood of 404s, 401s or 429s). Its `stack` is the first line
 * alone (`GantryError: message`); a 5xx keeps its frames.
 */
function clientError(code: string, spec: ErrorSpec, message: string, options?: GantryErrorOptions): GantryError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new GantryError(code, spec, message, options);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

const registry = new Map<string, { readonly owner: string; readonly spec: ErrorSpec }>();
const CODE_PATTERN = /^GANTRY_[A-Z0-9]+(?:_[A-Z0-9]+)*$/;

/**
 * Declares a package's error registry. Codes are `GANTRY_<OWNER>_<REASON>`; declaring a code twice
 * (in this package or another) throws at import time, so collisions never reach production.
 */
export function defineErrors<const K extends string>(
  owner: string,
  specs: Record<K, ErrorSpec>,
): { readonly [P in K]: ErrorFactory } {
  const prefix = `GANTRY_${owner.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_`;
  const out = {} as Record<K, ErrorFactory>;
  for (const reason of Object.keys(specs) as K[]) {
    const code = prefix + reason;
    const spec = specs[reason];
    if (!CODE_PATTERN.test(code))
      throw new TypeError(`Error code "${code}" is not of the form GANTRY_<OWNER>_<REASON> (upper snake case).`);
    const existing = registry.get(code);
    if (existing && existing.spec !== spec) {
      throw new TypeError(
        `Error code "${code}" is declared twice (by "${existing.owner}" and "${owner}"). Codes are unique and never reused: pick a new reason.`,
      );
    }
    registry.set(code, { owner, spec });
    const factory = (
      spec.status < 500
        ? (message: string, options?: GantryErrorOptions) => clientError(code, spec, message, options)
        : (message: string, options?: GantryErrorOptions) => new GantryError(code, spec, message, options)
    ) as ErrorFactory & { code: string; spec: ErrorSpec };
    Object.defineProperty(factory, 'code', { value: code, enumerable: true });
    Object.defineProperty(factory, 'spec', { value: spec, enumerable: true });
    Object.defineProperty(factory, 'is', { value: (v: unknown) => GantryError.is(v) && v.code === code });
    out[reason] = factory;
  }
  return Object.freeze(out);
}

/** Every code declared so far in this process, with its owner and spec (for docs and tests). */
export function registeredErrorCodes(): ReadonlyArray<{ code: string; owner: string; spec: ErrorSpec }> {
  return [...registry].map(([code, v]) => ({ code, owner: v.owner, spec: v.spec }));
}

/** Appends the fix to a message: "what happened. Fix: what to do." */
export function withFix(message: string, fix: string | undefined): string {
  return fix ? `${message}. Fix: ${fix}` : message;
}
