import { expect } from 'chai';
import { z } from 'zod';
import {
  createKernel,
  HttpTransportToken,
  resolveConfig,
  silentLogger,
  token,
  type HttpRouter,
  type HttpTransport,
  type RouteInfo,
} from '../src/index.js';
import { plugin, rejection, tempDir } from './helpers.js';

const svcSchema = z
  .object({
    port: z.number().int().default(3000).describe('port'),
    smtpUrl: z.string().optional().describe('SMTP URL'),
    name: z.string().default('svc').describe('name'),
    tags: z.array(z.string()).default([]).describe('tags'),
    db: z
      .object({
        host: z.string().default('localhost').describe('host'),
        port: z.number().default(5432).describe('port'),
      })
      .default({ host: 'localhost', port: 5432 })
      .describe('database'),
  })
  .strict();

describe('resolveConfig: the boot check without a kernel, with provenance', () => {
  const svc = plugin('svc', { config: svcSchema });

  it('says for every option whether it came from the default, the file, the profile or a variable', async () => {
    const tmp = tempDir();
    try {
      tmp.write(
        'gantry.config.json',
        JSON.stringify({
          plugins: { svc: { port: 4000, tags: ['a'] } },
          profiles: { staging: { plugins: { svc: { db: { host: 'db.staging' } } } } },
          kernel: { hookTimeoutMs: 500 },
        }),
      );
      const setup = await resolveConfig({
        appDir: tmp.dir,
        profile: 'staging',
        plugins: [svc],
        env: {
          GANTRY_SVC__DB__PORT: '6543',
          GANTRY_SVC__SMTP_URL: 'smtp://u:p@mail:25',
          GANTRY_KERNEL__SHUTDOWN_TIMEOUT_MS: '900',
        },
        kernel: { logLevel: 'warn' },
      });
      expect(setup.problems).to.deep.equal([]);
      expect(setup.configFile).to.equal(`${tmp.dir}/gantry.config.json`);
      expect(setup.profile).to.equal('staging');
      const [only] = setup.plugins;
      expect(only!.options).to.deep.equal({
        port: 4000,
        name: 'svc',
        tags: ['a'],
        smtpUrl: 'smtp://u:p@mail:25',
        db: { host: 'db.staging', port: 6543 },
      });
      expect(only!.provenance).to.deep.equal({
        port: { source: 'file' },
        tags: { source: 'file' },
        name: { source: 'default' },
        smtpUrl: { source: 'env', variable: 'GANTRY_SVC__SMTP_URL' },
        'db.host': { source: 'profile' },
        'db.port': { source: 'env', variable: 'GANTRY_SVC__DB__PORT' },
      });
      expect(setup.kernel.provenance).to.deep.equal({
        hookTimeoutMs: { source: 'file' },
        shutdownTimeoutMs: { source: 'env', variable: 'GANTRY_KERNEL__SHUTDOWN_TIMEOUT_MS' },
        logLevel: { source: 'code' },
      });
    } finally {
      tmp.remove();
    }
  });

  it('credits a JSON variable with the leaves it holds, and the default with those it does not', async () => {
    const setup = await resolveConfig({
      config: { plugins: { svc: {} } },
      plugins: [svc],
      env: { GANTRY_SVC__DB: '{"host":"from-env"}' },
    });
    expect(setup.plugins[0]!.provenance['db.host']).to.deep.equal({ source: 'env', variable: 'GANTRY_SVC__DB' });
    expect(setup.plugins[0]!.provenance['db.port']).to.deep.equal({ source: 'default' });
  });

  it('credits the profile alone for a plugin the base file disabled', async () => {
    const setup = await resolveConfig({
      config: { plugins: { svc: false }, profiles: { on: { plugins: { svc: { port: 1 } } } } },
      profile: 'on',
      plugins: [svc],
      env: {},
    });
    expect(setup.plugins[0]!.provenance.port).to.deep.equal({ source: 'profile' });
    const off = await resolveConfig({ config: { plugins: { svc: false } }, plugins: [svc], env: {} });
    expect(off.plugins).to.deep.equal([]);
    expect(off.disabled).to.deep.equal(['svc']);
  });

  it('returns every problem instead of throwing, with the input provenance of invalid options; createKernel throws the same list', async () => {
    const options = {
      config: { plugins: { svc: { port: 'x', bogus: 1 }, ghost: {} } },
      plugins: [svc, plugin('needy', { dependsOn: ['nowhere'] })],
      env: { GANTRY_SVC__NOPE: '1' },
    };
    const setup = await resolveConfig({ ...options, config: { plugins: { ...options.config.plugins, needy: {} } } });
    expect(setup.problems.length).to.equal(5);
    expect(setup.problems.join('\n'))
      .to.include('no option "NOPE"')
      .and.include('ghost')
      .and.include('"nowhere"')
      .and.include('option "port"')
      .and.include('bogus');
    const invalid = setup.plugins.find((p) => p.plugin.name === 'svc')!;
    expect(invalid.options).to.equal(undefined);
    expect(invalid.provenance).to.include.keys('port', 'bogus');
    const err = await rejection(
      createKernel({
        ...options,
        config: { plugins: { ...options.config.plugins, needy: {} } },
        logger: silentLogger(),
      }),
    );
    expect(err.details.problems).to.deep.equal(setup.problems);
  });
});

describe('Kernel.register(): routes and tokens without starting', () => {
  /** A stand-in HTTP transport: records routes, as @gantry/http does during register. */
  function transportPlugin() {
    const routes: RouteInfo[] = [];
    const transport: HttpTransport = {
      routerFor: (owner) =>
        ({
          route: (o: { method: RouteInfo['method']; path: string; meta?: Record<string, unknown> }) =>
            void routes.push({ method: o.method, path: o.path, root: false, plugin: owner, meta: o.meta ?? {} }),
        }) as unknown as HttpRouter,
      routes: () => routes,
    };
    return plugin('http', {
      provides: [HttpTransportToken],
      register: (ctx) => ctx.provide(HttpTransportToken, transport),
    });
  }

  it('registers every plugin in order without running a start hook; start() then runs them once, without registering again', async () => {
    const calls: string[] = [];
    const Thing = token<string>('test.Thing');
    const api = plugin('api', {
      dependsOn: ['http'],
      provides: [Thing],
      register(ctx) {
        calls.push('register api');
        ctx.provide(Thing, 'thing');
        ctx.http.route({ method: 'GET', path: '/things', meta: { public: true }, handler: () => [] });
        ctx.lifecycle.hook({
          name: 'open',
          start: () => void calls.push('start api'),
          stop: () => void calls.push('stop api'),
        });
      },
    });
    const kernel = await createKernel({
      config: { plugins: { api: {}, http: {} } },
      plugins: [api, transportPlugin()],
      env: {},
      logger: silentLogger(),
    });
    await kernel.register();
    expect(calls).to.deep.equal(['register api']);
    expect(kernel.get(Thing)).to.equal('thing');
    expect(
      kernel
        .get(HttpTransportToken)
        .routes()
        .map((r) => `${r.method} ${r.path} ${r.plugin}`),
    ).to.deep.equal(['GET /things api']);
    expect((await rejection(kernel.register())).code).to.equal('GANTRY_CORE_KERNEL_STATE');
    await kernel.start({ serve: false });
    expect(calls).to.deep.equal(['register api', 'start api']);
    await kernel.stop();
    expect(calls).to.deep.equal(['register api', 'start api', 'stop api']);
  });

  it('stops (releases) a kernel that was only registered, running no stop hook', async () => {
    const calls: string[] = [];
    const p = plugin('solo', {
      register: (ctx) =>
        ctx.lifecycle.hook({ name: 'h', start: () => void calls.push('start'), stop: () => void calls.push('stop') }),
    });
    const kernel = await createKernel({
      config: { plugins: { solo: {} } },
      plugins: [p],
      env: {},
      logger: silentLogger(),
    });
    await kernel.register();
    await kernel.stop();
    expect(calls).to.deep.equal([]);
    expect((await rejection(kernel.start())).code).to.equal('GANTRY_CORE_KERNEL_STATE');
  });
});
