import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z, type ZodType } from 'zod';
import { CoreErrors } from './errors.js';
import { didYouMean } from './suggest.js';

/** Options of one plugin as written in the config file; `false` disables a plugin a base file enabled. */
export type PluginOptions = Record<string, unknown> | false;

/** The config file's shape. */
export interface AppConfig {
  readonly plugins: Record<string, PluginOptions>;
  readonly profiles?: Record<string, { readonly plugins?: Record<string, PluginOptions> }>;
  readonly kernel?: KernelOptionsInput;
}

/** Levels of the default logger. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Kernel settings (config file key `kernel`, env `GANTRY_KERNEL__<KEY>`). */
export const kernelOptionsSchema = z
  .object({
    hookTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe('Limit for each plugin register/start/stop call'),
    shutdownTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(15_000)
      .describe('Deadline for a graceful shutdown; past it the process exits non-zero'),
    logLevel: z
      .enum(LOG_LEVELS)
      .optional()
      .describe('Log level of the default logger (default: the LOG_LEVEL variable, else info)'),
  })
  .strict();

/** Kernel settings before defaults. */
export type KernelOptionsInput = z.input<typeof kernelOptionsSchema>;
/** Kernel settings after validation. */
export type KernelOptions = z.output<typeof kernelOptionsSchema>;

const appConfigSchema = z
  .object({
    $schema: z.string().optional(),
    plugins: z.record(z.string(), z.union([z.record(z.string(), z.unknown()), z.literal(false)])),
    profiles: z
      .record(
        z.string(),
        z
          .object({
            plugins: z.record(z.string(), z.union([z.record(z.string(), z.unknown()), z.literal(false)])).optional(),
          })
          .strict(),
      )
      .optional(),
    kernel: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

/** Names of the config file, in the order they are looked for. */
export const CONFIG_FILES: readonly string[] = [
  'gantry.config.ts',
  'gantry.config.mts',
  'gantry.config.js',
  'gantry.config.mjs',
  'gantry.config.yaml',
  'gantry.config.yml',
  'gantry.config.json',
];

/** Finds the config file: `GANTRY_CONFIG` when set, else `gantry.config.{ts,yaml,json}` in `appDir`. */
export function findConfigFile(appDir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.GANTRY_CONFIG) return path.resolve(appDir, env.GANTRY_CONFIG);
  for (const name of CONFIG_FILES) {
    const candidate = path.join(appDir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Reads and shape-checks a config file (JSON, YAML, or a TS/JS module exporting it as `config` or
 * default). In JSON and YAML, `${NAME}` and `${NAME:-default}` inside string values are replaced from
 * the environment (`$${` writes a literal `${`); a module computes its values itself.
 */
export async function readConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<AppConfig> {
  if (!existsSync(file)) {
    throw CoreErrors.CONFIG_FILE_INVALID(`config file ${file} does not exist`, {
      fix: 'create it, or point GANTRY_CONFIG at an existing file',
    });
  }
  let raw: unknown;
  const ext = path.extname(file);
  try {
    if (ext === '.json') raw = JSON.parse(readFileSync(file, 'utf8'));
    else if (ext === '.yaml' || ext === '.yml') {
      // Loaded only for a YAML file: a JSON or TS config never imports the parser.
      const { parse } = await import('yaml');
      raw = parse(readFileSync(file, 'utf8'));
    }
    if (raw !== undefined) {
      const missing = new Set<string>();
      raw = interpolateEnv(raw, env, missing);
      if (missing.size > 0) {
        throw CoreErrors.CONFIG_FILE_INVALID(
          `config file ${file} uses environment variables that are not set: ${[...missing].join(', ')}`,
          {
            // biome-ignore lint/suspicious/noTemplateCurlyInString: the syntax the user writes, shown as is
            fix: 'set them, or give a default in the file: "${NAME:-default}"',
          },
        );
      }
    } else {
      // Node >= 22.18 strips TypeScript types natively, so a gantry.config.ts loads without a build step.
      const mod = (await import(pathToFileURL(file).href)) as { config?: unknown; default?: unknown };
      raw = mod.config ?? mod.default;
    }
  } catch (cause) {
    throw CoreErrors.CONFIG_FILE_INVALID(`config file ${file} cannot be parsed: ${(cause as Error).message}`, {
      cause,
    });
  }
  const parsed = appConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw CoreErrors.CONFIG_FILE_INVALID(`config file ${file} has the wrong shape:\n  - ${problems.join('\n  - ')}`, {
      details: { problems },
      fix: 'the file holds { "plugins": { "<plugin>": { ...options } }, "profiles": { "<name>": { "plugins": {...} } } }',
    });
  }
  return parsed.data as AppConfig;
}

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** A copy of a parsed config with `${NAME}` / `${NAME:-default}` in string values replaced from `env`. */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, missing: Set<string>): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    return value.replace(REFERENCE, (whole, name: string | undefined, fallback: string | undefined) => {
      if (name === undefined) return '${';
      const set = env[name];
      if (set !== undefined && set !== '') return set;
      if (fallback !== undefined) return fallback;
      missing.add(name);
      return whole;
    });
  }
  if (Array.isArray(value)) return value.map((v) => interpolateEnv(v, env, missing));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateEnv(v, env, missing)]));
  }
  return value;
}

/**
 * Applies a profile on top of the base plugin list: plugin options are deep-merged, `false`
 * disables a plugin. Plugin order is the base file's, then the profile's new ones.
 */
export function applyProfile(config: AppConfig, profile: string): Record<string, PluginOptions> {
  const out: Record<string, PluginOptions> = { ...config.plugins };
  const overlay = config.profiles?.[profile]?.plugins ?? {};
  for (const [spec, opts] of Object.entries(overlay)) {
    const base = Object.hasOwn(out, spec) ? out[spec] : undefined;
    setOwn(out, spec, opts === false ? false : base === false || base === undefined ? opts : deepMerge(base, opts));
  }
  return out;
}

/**
 * Merges environment overrides into the file's options. Where an override names a key inside an
 * object option the file does not set, the object starts from the schema's default for it, so
 * `GANTRY_RATE_LIMIT__DEFAULT__LIMIT=600` changes one field of the default policy instead of
 * replacing the whole object with `{ limit: 600 }`.
 */
export function mergeEnvOverrides(
  schema: ZodType | undefined,
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  const shape = objectShape(schema);
  for (const [k, v] of Object.entries(over)) {
    const node = shape?.[k];
    let b = Object.hasOwn(out, k) ? out[k] : undefined;
    if (b === undefined && isPlainObject(v)) {
      const fallback = node?.safeParse(undefined);
      if (fallback?.success && isPlainObject(fallback.data)) b = fallback.data;
    }
    setOwn(out, k, isPlainObject(b) && isPlainObject(v) ? mergeEnvOverrides(node, b, v) : v);
  }
  return out;
}

/** Deep merge of plain objects; arrays and scalars from `over` replace those of `base`. */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = Object.hasOwn(out, k) ? out[k] : undefined;
    setOwn(out, k, isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v);
  }
  return out;
}

/**
 * `obj[key] = value` as an own property whatever the key: a `__proto__` key of a parsed config file
 * stays a key (which the plugin's strict schema then refuses by name) instead of replacing the
 * object's prototype.
 */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/** `auth-jwt` → `AUTH_JWT`; `smtpUrl` → `SMTP_URL`. */
export function envSegment(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase();
}

/**
 * Overrides options from the environment: `GANTRY_<PLUGIN>__<KEY>[__<SUBKEY>]`. Keys are matched
 * against the schema (camelCase option `smtpUrl` is `SMTP_URL`) and values converted to the
 * schema's type (number, boolean, JSON for arrays and objects), so `GANTRY_HTTP__PORT=8080` is a number.
 */
export function envOverrides(
  pluginName: string,
  schema: ZodType | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { values: Record<string, unknown>; problems: string[] } {
  const prefix = `GANTRY_${envSegment(pluginName)}__`;
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, rawValue] of Object.entries(env)) {
    if (!name.startsWith(prefix) || rawValue === undefined) continue;
    const segments = name.slice(prefix.length).split('__');
    let node: ZodType | undefined = schema;
    let target = values;
    const keys: string[] = [];
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      const shape = objectShape(node);
      const key = shape ? Object.keys(shape).find((k) => envSegment(k) === seg) : undefined;
      if (!key) {
        const known = shape
          ? Object.keys(shape).map((k) => `${prefix}${[...keys.map(envSegment), envSegment(k)].join('__')}`)
          : [];
        problems.push(
          `environment variable ${name}: no option "${seg}" in plugin "${pluginName}"${known.length ? `; known: ${known.join(', ')}` : ''}`,
        );
        target = undefined as never;
        break;
      }
      keys.push(key);
      node = shape![key];
      if (i === segments.length - 1) {
        const converted = convertEnvValue(rawValue, node);
        if (converted.ok) target[key] = converted.value;
        else problems.push(`environment variable ${name}: ${converted.problem}`);
      } else {
        target = (target[key] ??= {}) as Record<string, unknown>;
      }
    }
  }
  return { values, problems };
}

function unwrap(schema: ZodType | undefined): ZodType | undefined {
  let s = schema as { _zod?: { def: { type: string; innerType?: ZodType; in?: ZodType } } } | undefined;
  for (let i = 0; i < 10 && s?._zod; i++) {
    const def = s._zod.def;
    if (
      ['optional', 'default', 'nullable', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(def.type) &&
      def.innerType
    )
      s = def.innerType as never;
    else if (def.type === 'pipe' && def.in) s = def.in as never;
    else break;
  }
  return s as ZodType | undefined;
}

/** The object shape the schema has at a path of an input (through optional/default wrappers), if any. */
function shapeAt(schema: ZodType, at: readonly PropertyKey[]): Record<string, ZodType> | undefined {
  let node: ZodType | undefined = schema;
  for (const key of at) node = objectShape(node)?.[String(key)];
  return objectShape(node);
}

function objectShape(schema: ZodType | undefined): Record<string, ZodType> | undefined {
  const s = unwrap(schema) as { _zod?: { def: { type: string; shape?: Record<string, ZodType> } } } | undefined;
  return s?._zod?.def.type === 'object' ? s._zod.def.shape : undefined;
}

function convertEnvValue(
  raw: string,
  schema: ZodType | undefined,
): { ok: true; value: unknown } | { ok: false; problem: string } {
  const type = (unwrap(schema) as { _zod?: { def: { type: string } } } | undefined)?._zod?.def.type;
  switch (type) {
    case 'number':
    case 'int': {
      const n = Number(raw);
      return raw.trim() !== '' && Number.isFinite(n)
        ? { ok: true, value: n }
        : { ok: false, problem: `expected a number, got ${JSON.stringify(raw)}` };
    }
    case 'boolean':
      if (/^(true|1|yes|on)$/i.test(raw)) return { ok: true, value: true };
      if (/^(false|0|no|off)$/i.test(raw)) return { ok: true, value: false };
      return { ok: false, problem: `expected true or false, got ${JSON.stringify(raw)}` };
    case 'object':
    case 'array':
    case 'record':
    case 'tuple':
      try {
        return { ok: true, value: JSON.parse(raw) };
      } catch {
        return { ok: false, problem: `expected JSON (${type}), got ${JSON.stringify(raw)}` };
      }
    case 'union': {
      // Unions such as `number | false` (trust proxy hops): try JSON first, fall back to the string.
      try {
        return { ok: true, value: JSON.parse(raw) };
      } catch {
        return { ok: true, value: raw };
      }
    }
    default:
      return { ok: true, value: raw };
  }
}

/**
 * Where a resolved option's value came from, lowest layer first. `code` is what a caller passed to
 * createKernel; `remote` is a plugin's {@link ConfigSource} (Consul KV), above the environment.
 */
export type OptionSourceKind = 'default' | 'code' | 'file' | 'profile' | 'env' | 'remote';

/** The origin of one option: its layer and, for `env`, the variable that set it. */
export interface OptionOrigin {
  readonly source: OptionSourceKind;
  readonly variable?: string;
}

/** Origin of every leaf option, keyed by its dotted path (`cors.origins`); arrays are leaves. */
export type OptionProvenance = Readonly<Record<string, OptionOrigin>>;

/** One layer of options for {@link optionProvenance}: written (code, file, profile) or from the environment. */
export interface OptionLayer {
  readonly source: Exclude<OptionSourceKind, 'default'>;
  readonly values: Readonly<Record<string, unknown>>;
}

/**
 * Says where each leaf of `value` (the validated options, or the input when invalid) came from: the
 * highest layer holding it (for `env`, the `GANTRY_<OWNER>__...` variable that set it or one of its
 * parents), else the schema default. Layers are given lowest first; `owner` is the plugin name or `kernel`.
 */
export function optionProvenance(args: {
  owner: string;
  value: unknown;
  layers: readonly OptionLayer[];
  env: NodeJS.ProcessEnv;
}): OptionProvenance {
  const out: Record<string, OptionOrigin> = {};
  const prefix = `GANTRY_${envSegment(args.owner)}__`;
  const originOf = (at: readonly string[]): OptionOrigin => {
    for (let i = args.layers.length - 1; i >= 0; i--) {
      const layer = args.layers[i]!;
      if (!holds(layer.values, at)) continue;
      if (layer.source !== 'env') return { source: layer.source };
      // The shortest variable wins: GANTRY_HTTP__CORS='{"origins":[...]}' sets every leaf it holds.
      for (let j = 1; j <= at.length; j++) {
        const variable = prefix + at.slice(0, j).map(envSegment).join('__');
        if (args.env[variable] !== undefined) return { source: 'env', variable };
      }
      return { source: 'env' };
    }
    return { source: 'default' };
  };
  const visit = (node: unknown, at: string[]): void => {
    if (at.length > 0 && !(isPlainObject(node) && Object.keys(node).length > 0)) {
      out[at.join('.')] = originOf(at);
      return;
    }
    if (isPlainObject(node)) for (const [k, v] of Object.entries(node)) visit(v, [...at, k]);
  };
  visit(args.value, []);
  return out;
}

/** True when `values` sets the option at `at`, itself or by setting a parent to a non-object. */
function holds(values: unknown, at: readonly string[]): boolean {
  let node: unknown = values;
  for (const key of at) {
    if (!isPlainObject(node)) return false;
    if (!(key in node)) return false;
    node = node[key];
    if (!isPlainObject(node)) return true;
  }
  return true;
}

const SECRET_KEY = /(url|password|passwd|secret|token|key|credential)/i;

/**
 * Formats zod issues as "option <path>: <message> (got <value>)"; values of secret-looking options
 * are not shown. With the schema, an unknown key gets a "did you mean" from the keys it allows.
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown, schema?: ZodType): string[] {
  return issues.map((issue) => {
    const where = issue.path.length ? issue.path.join('.') : '(options)';
    let message = issue.message;
    if (issue.code === 'unrecognized_keys' && schema) {
      const allowed = Object.keys(shapeAt(schema, issue.path as PropertyKey[]) ?? {});
      const keys = issue.keys.map((k) => `"${k}"${didYouMean(k, allowed)}`);
      message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${keys.join(', ')}; known: ${allowed.join(', ') || 'none'}`;
    }
    const got = valueAt(input, issue.path as PropertyKey[]);
    // A mistyped secret must not end up in a boot error (and so in logs): say only that a value was given.
    const secret = issue.path.some((k) => typeof k === 'string' && SECRET_KEY.test(k));
    const gotText =
      got === undefined
        ? 'nothing'
        : secret
          ? 'a value, not shown: it may be a secret'
          : JSON.stringify(redactSecrets(got))?.slice(0, 80);
    return `option "${where}": ${message} (got ${gotText})`;
  });
}

/** A copy of a value with the values of secret-looking keys replaced, at any depth (objects and arrays). */
function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) ? '[not shown]' : redactSecrets(v)]),
  );
}

function valueAt(input: unknown, p: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const k of p) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** Freezes an object graph so validated config cannot change under a running plugin. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
