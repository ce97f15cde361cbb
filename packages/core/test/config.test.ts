import path from 'node:path';
import { expect } from 'chai';
import { z } from 'zod';
import {
  createKernel,
  deepMerge,
  envOverrides,
  envSegment,
  silentLogger,
  type CreateKernelOptions,
  type Plugin,
} from '../src/index.js';
import { plugin, problemsOf, rejection, tempDir } from './helpers.js';

const svcSchema = z.object({
  port: z.number().int().default(3000).describe('port'),
  enabled: z.boolean().default(true).describe('on/off'),
  smtpUrl: z.string().optional().describe('SMTP URL'),
  name: z.string().default('svc').describe('name'),
  tags: z.array(z.string()).default([]).describe('tags'),
  db: z
    .object({
      host: z.string().default('localhost').describe('host'),
      port: z.number().default(5432).describe('port'),
      tls: z.boolean().default(false).describe('tls'),
    })
    .default({ host: 'localhost', port: 5432, tls: false })
    .describe('database'),
});
type Svc = z.output<typeof svcSchema>;

/** A plugin `svc` that records the options it receives. */
function recorder(): { plugin: Plugin; seen: { config?: Svc; profile?: string; appDir?: string } } {
  const seen: { config?: Svc; profile?: string; appDir?: string } = {};
  const p = plugin('svc', {
    config: svcSchema,
    register: (ctx) => {
      seen.config = ctx.config as Svc;
      seen.profile = ctx.profile;
      seen.appDir = ctx.appDir;
    },
  });
  return { plugin: p, seen };
}

/** Builds, starts and stops a kernel; returns what the `svc` plugin saw and the kernel's plugin list. */
async function boot(
  options: CreateKernelOptions,
  extra: Plugin[] = [],
): Promise<{ config: Svc; profile: string; appDir: string; plugins: readonly string[] }> {
  const r = recorder();
  const kernel = await createKernel({ env: {}, logger: silentLogger(), ...options, plugins: [r.plugin, ...extra] });
  await kernel.start();
  await kernel.stop();
  return { config: r.seen.config!, profile: r.seen.profile!, appDir: r.seen.appDir!, plugins: kernel.pluginNames };
}

describe('config', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir('gantry-config-')));
  afterEach(() => tmp.remove());

  describe('files', () => {
    it('reads gantry.config.json from the app folder', async () => {
      tmp.write('gantry.config.json', JSON.stringify({ plugins: { svc: { port: 8081, db: { host: 'db.json' } } } }));
      const seen = await boot({ appDir: tmp.dir });
      expect(seen.config.port).to.equal(8081);
      expect(seen.config.db).to.deep.equal({ host: 'db.json', port: 5432, tls: false });
      expect(seen.appDir).to.equal(tmp.dir);
    });

    it('replaces ${NAME} and ${NAME:-default} in string values of JSON and YAML files from the environment', async () => {
      tmp.write(
        'gantry.config.json',
        JSON.stringify({
          plugins: {
            svc: {
              name: 'svc-${PORT:-3000}',
              smtpUrl: 'smtp://${MAIL_HOST}:25',
              tags: ['$${literal}', '${EMPTY:-fallback}'],
            },
          },
        }),
      );
      const seen = await boot({ appDir: tmp.dir, env: { PORT: '4100', MAIL_HOST: 'mail.internal', EMPTY: '' } });
      expect(seen.config).to.include({ name: 'svc-4100', smtpUrl: 'smtp://mail.internal:25' });
      expect(seen.config.tags).to.deep.equal(['${literal}', 'fallback']);
      expect((await boot({ appDir: tmp.dir, env: { MAIL_HOST: 'm' } })).config.name).to.equal('svc-3000');
      const unset = await rejection(createKernel({ appDir: tmp.dir, env: {}, logger: silentLogger() }));
      expect(unset.code).to.equal('GANTRY_CORE_CONFIG_FILE_INVALID');
      expect(unset.message).to.include('uses environment variables that are not set: MAIL_HOST');
    });

    it('reads gantry.config.yaml', async () => {
      tmp.write('gantry.config.yaml', 'plugins:\n  svc:\n    port: 8082\n    tags: [a, b]\n    db:\n      tls: true\n');
      const seen = await boot({ appDir: tmp.dir });
      expect(seen.config.port).to.equal(8082);
      expect(seen.config.tags).to.deep.equal(['a', 'b']);
      expect(seen.config.db.tls).to.equal(true);
    });

    it('loads gantry.config.ts with type annotations through Node type stripping', async () => {
      tmp.write(
        'gantry.config.ts',
        [
          'type PluginOptions = Record<string, unknown>;',
          'interface AppConfig { plugins: Record<string, PluginOptions | false>; profiles?: Record<string, { plugins: Record<string, PluginOptions | false> }> }',
          'const port: number = 8083;',
          'export const config: AppConfig = { plugins: { svc: { port, name: "from-ts" as string } }, profiles: { compose: { plugins: { svc: { port: 9093 } } } } };',
          'export default config satisfies AppConfig;',
        ].join('\n'),
      );
      const seen = await boot({ appDir: tmp.dir });
      expect(seen.config.port).to.equal(8083);
      expect(seen.config.name).to.equal('from-ts');
      const compose = await boot({ appDir: tmp.dir, profile: 'compose' });
      expect(compose.config.port).to.equal(9093);
    });

    it('takes the first of gantry.config.{ts,js,yaml,json} present (yaml before json)', async () => {
      tmp.write('gantry.config.json', JSON.stringify({ plugins: { svc: { name: 'json' } } }));
      tmp.write('gantry.config.yaml', 'plugins:\n  svc:\n    name: yaml\n');
      expect((await boot({ appDir: tmp.dir })).config.name).to.equal('yaml');
    });

    it('uses the file named by GANTRY_CONFIG (relative to the app folder), and the configFile option', async () => {
      tmp.write('gantry.config.json', JSON.stringify({ plugins: { svc: { name: 'default-file' } } }));
      tmp.write('conf/prod.yaml', 'plugins:\n  svc:\n    name: from-env-file\n');
      tmp.write('conf/other.json', JSON.stringify({ plugins: { svc: { name: 'from-option' } } }));
      const viaEnv = await boot({ appDir: tmp.dir, env: { GANTRY_CONFIG: 'conf/prod.yaml' } });
      expect(viaEnv.config.name).to.equal('from-env-file');
      // Relative paths in the config (local plugins) resolve from the config file's folder.
      expect(viaEnv.appDir).to.equal(path.join(tmp.dir, 'conf'));
      const viaOption = await boot({ appDir: tmp.dir, configFile: 'conf/other.json' });
      expect(viaOption.config.name).to.equal('from-option');
    });

    it('reports a missing GANTRY_CONFIG file, a malformed file and a file of the wrong shape', async () => {
      const missing = await rejection(
        createKernel({ appDir: tmp.dir, env: { GANTRY_CONFIG: 'nope.json' }, logger: silentLogger() }),
      );
      expect(missing.code).to.equal('GANTRY_CORE_CONFIG_FILE_INVALID');
      expect(missing.message).to.equal(`config file ${tmp.dir}/nope.json does not exist`);

      tmp.write('bad.json', '{ "plugins": { "svc": { ');
      const malformed = await rejection(
        createKernel({ appDir: tmp.dir, configFile: 'bad.json', env: {}, logger: silentLogger() }),
      );
      expect(malformed.code).to.equal('GANTRY_CORE_CONFIG_FILE_INVALID');
      expect(malformed.message).to.include(`config file ${tmp.dir}/bad.json cannot be parsed`);

      tmp.write('shape.yaml', 'plugin:\n  svc: {}\nplugins:\n  svc: 3\n');
      const shape = await rejection(
        createKernel({ appDir: tmp.dir, configFile: 'shape.yaml', env: {}, logger: silentLogger() }),
      );
      expect(shape.code).to.equal('GANTRY_CORE_CONFIG_FILE_INVALID');
      expect(shape.message).to.include('has the wrong shape');
      const problems = shape.details.problems as string[];
      expect(problems.some((p) => p.startsWith('plugins.svc:'))).to.equal(true);
      expect(problems.some((p) => p.includes('"plugin"'))).to.equal(true);
    });
  });

  describe('profiles', () => {
    const config = {
      plugins: {
        svc: { port: 1, name: 'base', tags: ['x', 'y'], db: { host: 'base-db', port: 1111 } },
        extra: {},
        later: false as const,
      },
      profiles: {
        prod: { plugins: { svc: { db: { host: 'prod-db' }, tags: ['z'] }, extra: false as const, later: {} } },
      },
    };
    const extra = [plugin('extra'), plugin('later')];

    it('deep-merges profile options over the base and lets `false` disable or `{}` enable a plugin', async () => {
      const base = await boot({ config }, extra);
      expect(base.profile).to.equal('embedded');
      expect(base.plugins).to.have.members(['svc', 'extra']);
      expect(base.config.db).to.deep.equal({ host: 'base-db', port: 1111, tls: false });

      const prod = await boot({ config, profile: 'prod' }, extra);
      expect(prod.profile).to.equal('prod');
      expect(prod.plugins).to.have.members(['svc', 'later']);
      expect(prod.config.db).to.deep.equal({ host: 'prod-db', port: 1111, tls: false });
      expect(prod.config.name).to.equal('base');
      expect(prod.config.port).to.equal(1);
      // Arrays are replaced, not concatenated.
      expect(prod.config.tags).to.deep.equal(['z']);
    });

    it('takes the profile from GANTRY_PROFILE', async () => {
      const prod = await boot({ config, env: { GANTRY_PROFILE: 'prod' } }, extra);
      expect(prod.profile).to.equal('prod');
      expect(prod.config.db.host).to.equal('prod-db');
    });

    it('deepMerge replaces arrays and scalars and does not mutate its inputs', () => {
      const base = { a: { b: 1, c: [1, 2] }, d: 'x' };
      const out = deepMerge(base, { a: { c: [3] }, e: true });
      expect(out).to.deep.equal({ a: { b: 1, c: [3] }, d: 'x', e: true });
      expect(base).to.deep.equal({ a: { b: 1, c: [1, 2] }, d: 'x' });
    });

    it('deepMerge keeps a __proto__ key of parsed input as a key, never as a prototype', () => {
      const over = JSON.parse('{"__proto__":{"polluted":true},"a":{"__proto__":{"x":1}}}') as Record<string, unknown>;
      const out = deepMerge({ a: { b: 1 } }, over);
      expect(Object.getPrototypeOf(out)).to.equal(Object.prototype);
      expect(Object.getPrototypeOf(out.a)).to.equal(Object.prototype);
      expect(Object.keys(out)).to.have.members(['__proto__', 'a']);
      expect(Object.keys(out.a as object)).to.have.members(['b', '__proto__']);
      expect((out as { polluted?: unknown }).polluted).to.equal(undefined);
      expect(({} as { polluted?: unknown }).polluted).to.equal(undefined);
    });
  });

  describe('environment overrides', () => {
    it('converts GANTRY_<PLUGIN>__<KEY> to the schema type, nested keys with __', async () => {
      const seen = await boot({
        config: { plugins: { svc: { port: 1, db: { host: 'file-host' } } } },
        env: {
          GANTRY_SVC__PORT: '8080',
          GANTRY_SVC__ENABLED: 'false',
          GANTRY_SVC__SMTP_URL: 'smtp://mail:25',
          GANTRY_SVC__TAGS: '["a","b"]',
          GANTRY_SVC__DB__HOST: 'env-host',
          GANTRY_SVC__DB__PORT: '6543',
          GANTRY_SVC__DB__TLS: 'yes',
          GANTRY_OTHER__PORT: 'ignored: another plugin',
        },
      });
      expect(seen.config.port).to.equal(8080);
      expect(seen.config.enabled).to.equal(false);
      expect(seen.config.smtpUrl).to.equal('smtp://mail:25');
      expect(seen.config.tags).to.deep.equal(['a', 'b']);
      expect(seen.config.db).to.deep.equal({ host: 'env-host', port: 6543, tls: true });
    });

    it("an override inside an object option the file does not set starts from that object's default (one field changes)", async () => {
      // A policy-like option whose fields are required: { limit } alone would not validate.
      const policy = z
        .object({ windowMs: z.number().describe('window'), limit: z.number().describe('limit') })
        .strict();
      let seen: unknown;
      const p = plugin('limits', {
        config: z
          .object({
            default: policy.default({ windowMs: 60_000, limit: 300 }).describe('policy'),
            other: policy.optional().describe('no default'),
          })
          .strict(),
        register: (ctx) => void (seen = ctx.config),
      });
      const run = async (
        plugins: Record<string, Record<string, unknown>>,
        env: Record<string, string>,
      ): Promise<unknown> => {
        const kernel = await createKernel({ config: { plugins }, plugins: [p], env, logger: silentLogger() });
        await kernel.start();
        await kernel.stop();
        return seen;
      };
      expect(await run({ limits: {} }, { GANTRY_LIMITS__DEFAULT__LIMIT: '600' })).to.deep.equal({
        default: { windowMs: 60_000, limit: 600 },
      });
      // The file's object wins over the schema default; the override still changes one field.
      expect(
        await run({ limits: { default: { windowMs: 1_000, limit: 5 } } }, { GANTRY_LIMITS__DEFAULT__LIMIT: '7' }),
      ).to.deep.equal({ default: { windowMs: 1_000, limit: 7 } });
      // No default to start from: the missing field is reported, not invented.
      const bad = await rejection(
        createKernel({
          config: { plugins: { limits: {} } },
          plugins: [p],
          env: { GANTRY_LIMITS__OTHER__LIMIT: '1' },
          logger: silentLogger(),
        }),
      );
      expect(problemsOf(bad).join('\n')).to.match(/other\.windowMs/);
    });

    it('refuses a __proto__ key of a profile by name instead of taking it as a prototype', async () => {
      const p = plugin('limits', {
        config: z.object({ limit: z.number().default(300).describe('limit') }).strict(),
      });
      const fromProfile = await rejection(
        createKernel({
          config: JSON.parse(
            '{"plugins":{"limits":{}},"profiles":{"prod":{"plugins":{"limits":{"__proto__":{"limit":1}}}}}}',
          ),
          plugins: [p],
          profile: 'prod',
          logger: silentLogger(),
        }),
      );
      expect(problemsOf(fromProfile).join('\n')).to.match(/__proto__/);
      expect(({} as { limit?: unknown }).limit).to.equal(undefined);
    });

    it('ranks env over profile over file', async () => {
      const seen = await boot({
        config: {
          plugins: { svc: { port: 1, name: 'file' } },
          profiles: { prod: { plugins: { svc: { port: 2, name: 'profile' } } } },
        },
        profile: 'prod',
        env: { GANTRY_SVC__PORT: '3' },
      });
      expect(seen.config.port).to.equal(3);
      expect(seen.config.name).to.equal('profile');
    });

    it('maps a dashed plugin name to GANTRY_AUTH_JWT__...', async () => {
      let seen: unknown;
      const p = plugin('auth-jwt', {
        config: z.object({ clockSkewSeconds: z.number().default(0).describe('skew') }),
        register: (ctx) => void (seen = ctx.config),
      });
      const kernel = await createKernel({
        config: { plugins: { 'auth-jwt': {} } },
        plugins: [p],
        env: { GANTRY_AUTH_JWT__CLOCK_SKEW_SECONDS: '30' },
        logger: silentLogger(),
      });
      await kernel.start();
      await kernel.stop();
      expect(seen).to.deep.equal({ clockSkewSeconds: 30 });
      expect(envSegment('auth-jwt')).to.equal('AUTH_JWT');
      expect(envSegment('smtpUrl')).to.equal('SMTP_URL');
    });

    it('reports an unknown key, listing the known ones, and values of the wrong type', async () => {
      const err = await rejection(
        createKernel({
          config: { plugins: { svc: {} } },
          plugins: [recorder().plugin],
          env: {
            GANTRY_SVC__PROT: '80',
            GANTRY_SVC__DB__HOTS: 'x',
            GANTRY_SVC__PORT: 'eighty',
            GANTRY_SVC__ENABLED: 'maybe',
          },
          logger: silentLogger(),
        }),
      );
      const problems = problemsOf(err);
      expect(problems).to.have.length(4);
      const prot = problems.find((p) => p.includes('GANTRY_SVC__PROT'));
      expect(prot).to.match(
        /^plugin "svc": environment variable GANTRY_SVC__PROT: no option "PROT" in plugin "svc"; known: GANTRY_SVC__PORT, GANTRY_SVC__ENABLED, GANTRY_SVC__SMTP_URL/,
      );
      expect(problems.find((p) => p.includes('GANTRY_SVC__DB__HOTS'))).to.include(
        'known: GANTRY_SVC__DB__HOST, GANTRY_SVC__DB__PORT, GANTRY_SVC__DB__TLS',
      );
      expect(problems).to.include(
        'plugin "svc": environment variable GANTRY_SVC__PORT: expected a number, got "eighty"',
      );
      expect(problems).to.include(
        'plugin "svc": environment variable GANTRY_SVC__ENABLED: expected true or false, got "maybe"',
      );
    });

    it('overrides kernel settings with GANTRY_KERNEL__<KEY>', async () => {
      const kernel = await createKernel({
        config: { plugins: {} },
        env: { GANTRY_KERNEL__HOOK_TIMEOUT_MS: '1234', GANTRY_KERNEL__LOG_LEVEL: 'warn' },
        logger: silentLogger(),
      });
      expect(kernel.options.hookTimeoutMs).to.equal(1234);
      expect(kernel.options.logLevel).to.equal('warn');
      const bad = await rejection(
        createKernel({ config: { plugins: {} }, env: { GANTRY_KERNEL__HOOK_TIMEOUT: '5' }, logger: silentLogger() }),
      );
      expect(problemsOf(bad)[0]).to.match(
        /^kernel: environment variable GANTRY_KERNEL__HOOK_TIMEOUT: no option "HOOK_TIMEOUT"/,
      );
    });

    it('envOverrides returns only the plugin’s own variables', () => {
      const out = envOverrides('svc', svcSchema, {
        GANTRY_SVC__PORT: '1',
        GANTRY_SVCX__PORT: '2',
        GANTRY_SV__PORT: '3',
        PORT: '4',
      });
      expect(out).to.deep.equal({ values: { port: 1 }, problems: [] });
    });
  });

  describe('validated options', () => {
    it('are deeply frozen: a plugin cannot change them', async () => {
      let config: Svc | undefined;
      let mutationError: unknown;
      const p = plugin('svc', {
        config: svcSchema,
        register: (ctx) => {
          config = ctx.config as Svc;
          try {
            (ctx.config as { db: { host: string } }).db.host = 'changed';
          } catch (err) {
            mutationError = err;
          }
        },
      });
      const kernel = await createKernel({
        config: { plugins: { svc: { tags: ['a'] } } },
        plugins: [p],
        env: {},
        logger: silentLogger(),
      });
      await kernel.start();
      await kernel.stop();
      expect(Object.isFrozen(config)).to.equal(true);
      expect(Object.isFrozen(config!.db)).to.equal(true);
      expect(Object.isFrozen(config!.tags)).to.equal(true);
      expect(mutationError).to.be.instanceOf(TypeError);
      expect(config!.db.host).to.equal('localhost');
    });

    it('apply schema defaults when the file gives nothing', async () => {
      const seen = await boot({ config: { plugins: { svc: {} } } });
      expect(seen.config).to.deep.equal({
        port: 3000,
        enabled: true,
        name: 'svc',
        tags: [],
        db: { host: 'localhost', port: 5432, tls: false },
      });
    });
  });
});
