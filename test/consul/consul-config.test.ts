// consul-config end to end against the Consul contract fake (test/support/consul-fake.ts: no real
// Consul can run here): hot changes, rejected changes, restarts that do not drop other routes,
// registration with a polled /readyz check, deregistration before the drain, discovery balancing the
// circuit-breaker client over two real HTTP servers.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreErrors, definePlugin, GantryError, KernelInfoToken, type Plugin } from '@gantry/core';
import { plugin as http } from '@gantry/http';
import { CircuitBreakerErrors, CircuitBreakersToken, plugin as circuitBreaker } from '@gantry/plugin-circuit-breaker';
import { ConsulConfigErrors, DiscoveryToken, plugin as consulConfig } from '@gantry/plugin-consul-config';
import { plugin as rateLimit } from '@gantry/plugin-rate-limit';
import { createTestKernel, memoryLogger, type LogLine, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import Consul from 'consul';
import { startConsulFake, type ConsulFake } from '../support/consul-fake.js';

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) expect.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A plugin with one public route answering `{ plugin }`, counting its hook's starts. */
function routePlugin(name: string, extra: { dependsOn?: string[]; stop?: () => Promise<void> } = {}) {
  const starts = { count: 0 };
  const value: Plugin = definePlugin({
    name,
    version: '1.0.0',
    kernel: '^0.1.0',
    dependsOn: ['http', ...(extra.dependsOn ?? [])],
    register(ctx) {
      ctx.http.get(`/${name}`, { root: true, meta: { public: true, rateLimit: false } }, () => ({ plugin: name }));
      ctx.http.get(`/${name}/limited`, { root: true, meta: { public: true, rateLimit: 'default' } }, () => ({
        plugin: name,
      }));
      ctx.lifecycle.hook({ name, start: () => void starts.count++, stop: extra.stop });
    },
  });
  return { plugin: value, starts };
}

const APP = 'shop';
const FOLDER = `gantry/${APP}/embedded`;
const FAST = { backoff: { initialMs: 20, maxMs: 200 }, config: { waitMs: 5_000 } };

describe('consul-config against the Consul contract fake', () => {
  let fake: ConsulFake;
  let consul: Consul;
  let tk: TestKernel | undefined;
  beforeEach(async () => {
    fake = await startConsulFake();
    consul = new Consul({ host: '127.0.0.1', port: fake.port });
  });
  afterEach(async () => {
    await tk?.stop();
    tk = undefined;
    consul.destroy();
    await fake.close();
  });

  const consulOptions = (extra: Record<string, unknown> = {}) => ({
    url: fake.url,
    app: APP,
    register: { enabled: false },
    ...FAST,
    ...extra,
  });

  it('a hot key (rate-limit limit) is applied within 2 s without a restart, and the new limit takes effect', async () => {
    const ping = routePlugin('ping');
    tk = await createTestKernel({
      plugins: [http, rateLimit, consulConfig, ping.plugin],
      config: { 'consul-config': consulOptions(), 'rate-limit': { default: { windowMs: 60_000, limit: 100 } } },
    });
    for (let i = 0; i < 5; i++) expect((await tk.inject('/ping/limited')).statusCode).to.equal(200);

    await consul.kv.set(`${FOLDER}/rate-limit/default/limit`, '3');
    await until(
      'the change applied',
      () => tk!.kernel.configChanges().some((c) => c.plugin === 'rate-limit' && c.decision === 'applied'),
      2_000,
    );
    // 5 requests are already counted in this window: the new limit of 3 refuses the next one.
    const refused = await tk.inject('/ping/limited');
    expect(refused.statusCode).to.equal(429);
    expect(refused.json()).to.include({ code: 'GANTRY_RATE_LIMIT_EXCEEDED' });
    expect((refused.json() as { limit: number }).limit).to.equal(3);
    // Hot: nothing restarted.
    expect(ping.starts.count).to.equal(1);
    expect(tk.kernel.configChanges().map((c) => c.decision)).to.deep.equal(['applied']);
    expect((tk.kernel.optionsOf('rate-limit') as { default: { limit: number } }).default.limit).to.equal(3);
  });

  it('an invalid value is rejected, logged with the key and the reason, and the old value kept', async () => {
    const lines: LogLine[] = [];
    tk = await createTestKernel({
      plugins: [http, rateLimit, consulConfig, routePlugin('ping').plugin],
      config: { 'consul-config': consulOptions(), 'rate-limit': { default: { windowMs: 60_000, limit: 2 } } },
      logger: memoryLogger(lines),
    });
    await consul.kv.set(`${FOLDER}/rate-limit/default/limit`, '"lots"');
    await until('the rejection', () => tk!.kernel.configChanges().some((c) => c.decision === 'invalid'));
    const line = lines.find((l) => l.fields.code === CoreErrors.CONFIG_CHANGE_REJECTED.code);
    expect(line, 'a rejection log line').to.not.equal(undefined);
    expect(line!.level).to.equal('warn');
    expect(line!.fields.plugin).to.equal('rate-limit');
    expect(line!.fields.keys).to.deep.equal(['default.limit']);
    expect(String(line!.fields.reason)).to.match(/option "default\.limit": .*number.*"lots"/);
    // The old limit (2) still holds.
    expect((tk.kernel.optionsOf('rate-limit') as { default: { limit: number } }).default.limit).to.equal(2);
    expect((await tk.inject('/ping/limited')).statusCode).to.equal(200);
    expect((await tk.inject('/ping/limited')).statusCode).to.equal(200);
    expect((await tk.inject('/ping/limited')).statusCode).to.equal(429);
    // A non-hot key (the window) is refused by the plugin itself, also keeping the old value.
    await consul.kv.set(`${FOLDER}/rate-limit/default/limit`, '2');
    await consul.kv.set(`${FOLDER}/rate-limit/default/windowMs`, '5000');
    await until('the plugin refusal', () => tk!.kernel.configChanges().some((c) => c.decision === 'reject'));
    const rejected = tk.kernel.configChanges().find((c) => c.decision === 'reject')!;
    expect(rejected.keys).to.deep.equal(['default.windowMs']);
    expect((tk.kernel.optionsOf('rate-limit') as { default: { windowMs: number } }).default.windowMs).to.equal(60_000);
  });

  it("a 'restart' restarts only that plugin and its dependents while another plugin's route keeps answering", async () => {
    let releaseStop!: () => void;
    const stopGate = new Promise<void>((r) => {
      releaseStop = r;
    });
    let gateUsed = false;
    // A dependent of circuit-breaker whose stop takes until the test has seen the restart in progress.
    const orders = routePlugin('orders', {
      dependsOn: ['circuit-breaker'],
      stop: async () => {
        if (!gateUsed) return;
        await stopGate;
      },
    });
    const other = routePlugin('other');
    tk = await createTestKernel({
      plugins: [http, circuitBreaker, consulConfig, orders.plugin, other.plugin],
      config: {
        http: { listen: true, port: 0 },
        'consul-config': consulOptions(),
        'circuit-breaker': { policies: { payments: { order: ['timeout'], timeout: { ms: 2_000 } } } },
      },
    });
    const base = tk.url();
    const info = tk.kernel.get(KernelInfoToken);
    gateUsed = true;

    // Requests to the other plugin, fired continuously and concurrently through the whole restart.
    const statuses: number[] = [];
    const failures: string[] = [];
    let firing = true;
    const shooter = async (): Promise<void> => {
      while (firing) {
        try {
          const res = await fetch(`${base}/other`);
          await res.arrayBuffer();
          statuses.push(res.status);
        } catch (err) {
          failures.push(String((err as Error).message));
        }
      }
    };
    const shooters = Array.from({ length: 8 }, shooter);
    try {
      await consul.kv.set(`${FOLDER}/circuit-breaker/policies/payments/timeout/ms`, '3000');
      await until('orders to be restarting', () => info.isRestarting!('orders'));
      const during = statuses.length;
      // While orders restarts: its route answers 503 with Retry-After; the other route keeps answering.
      const restarting = await fetch(`${base}/orders`);
      expect(restarting.status).to.equal(503);
      expect(restarting.headers.get('retry-after')).to.equal('1');
      expect(((await restarting.json()) as { code: string }).code).to.equal(CoreErrors.PLUGIN_RESTARTING.code);
      await until('requests to /other answered during the restart', () => statuses.length >= during + 50);
      expect(info.isRestarting!('orders')).to.equal(true);
      releaseStop();
      await until('the restart to finish', () => tk!.kernel.configChanges().length > 0);
    } finally {
      firing = false;
      releaseStop();
      await Promise.all(shooters);
    }

    expect(failures).to.deep.equal([]);
    expect(statuses.filter((s) => s !== 200)).to.deep.equal([]);
    const rec = tk.kernel.configChanges()[0]!;
    expect(rec).to.include({ plugin: 'circuit-breaker', decision: 'restart' });
    expect(rec.restarted).to.deep.equal(['circuit-breaker', 'orders']);
    expect(orders.starts.count).to.equal(2);
    expect(other.starts.count).to.equal(1);
    expect((await fetch(`${base}/orders`)).status).to.equal(200);
    expect(tk.get(CircuitBreakersToken).names()).to.deep.equal(['payments']);
    expect(
      (tk.kernel.optionsOf('circuit-breaker') as { policies: { payments: { timeout: { ms: number } } } }).policies
        .payments.timeout.ms,
    ).to.equal(3000);
  });

  it('registers with an HTTP check on /readyz that passes, and deregisters first at shutdown, before the drain', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let entered = false;
    const slow = definePlugin({
      name: 'slow',
      version: '1.0.0',
      kernel: '^0.1.0',
      dependsOn: ['http'],
      register(ctx) {
        ctx.http.get('/slow', { root: true, meta: { public: true } }, async () => {
          entered = true;
          await gate;
          return { done: true };
        });
      },
    });
    tk = await createTestKernel({
      plugins: [http, consulConfig, slow],
      config: {
        http: { listen: true, port: 0 },
        'consul-config': consulOptions({ register: { id: 'shop-1', checkInterval: '100ms', checkTimeout: '1s' } }),
      },
    });
    const port = Number(new URL(tk.url()).port);
    await until('the check to pass', () => fake.services()['shop-1']?.checks['service:shop-1'] === 'passing');
    expect(fake.services()['shop-1']).to.include({ name: APP, address: '127.0.0.1', port });
    const healthy = (await consul.health.service({ service: APP, passing: true })) as { Service: { ID: string } }[];
    expect(healthy.map((e) => e.Service.ID)).to.deep.equal(['shop-1']);
    expect(((await consul.catalog.service.list()) as Record<string, string[]>)[APP]).to.deep.equal([]);
    expect(fake.checkPolls('service:shop-1')).to.be.greaterThan(0);

    // A request in flight, then shutdown: the instance leaves Consul while the request still runs.
    const inFlight = fetch(`${tk.url()}/slow`);
    await until('the slow request to run', () => entered);
    const stopping = tk.stop();
    await until('the deregistration', () => fake.services()['shop-1'] === undefined);
    release();
    const res = await inFlight;
    expect(res.status).to.equal(200);
    await stopping;
    tk = undefined;
    expect(await consul.catalog.service.list()).to.deep.equal({ consul: [] });
  });

  it('Consul unreachable at boot: starts on local config, readiness degraded, picks the config up once Consul answers', async () => {
    await consul.kv.set(`${FOLDER}/rate-limit/default/limit`, '4');
    await fake.pause();
    tk = await createTestKernel({
      plugins: [http, rateLimit, consulConfig, routePlugin('ping').plugin],
      config: {
        http: { readinessDetails: 'always' },
        'consul-config': consulOptions(),
        'rate-limit': { default: { windowMs: 60_000, limit: 100 } },
      },
    });
    expect((tk.kernel.optionsOf('rate-limit') as { default: { limit: number } }).default.limit).to.equal(100);
    const ready = (await tk.inject('/readyz')).json() as {
      status: string;
      checks: Record<string, { status: string; details: { config: string } }>;
    };
    expect(ready.status).to.equal('ready');
    expect(ready.checks['consul-config']!.status).to.equal('degraded');
    expect(ready.checks['consul-config']!.details.config).to.equal('degraded');
    await fake.start();
    await until('the remote value', () => tk!.kernel.configChanges().some((c) => c.decision === 'applied'));
    expect((tk.kernel.optionsOf('rate-limit') as { default: { limit: number } }).default.limit).to.equal(4);
    const after = (await tk.inject('/readyz')).json() as { checks: Record<string, { status: string }> };
    expect(after.checks['consul-config']!.status).to.equal('up');
  });

  it('Consul going away while running: readiness degraded, the last config kept, changes flow again once it is back', async () => {
    tk = await createTestKernel({
      plugins: [http, rateLimit, consulConfig],
      config: { http: { readinessDetails: 'always' }, 'consul-config': consulOptions() },
    });
    const check = async () =>
      ((await tk!.inject('/readyz')).json() as { checks: Record<string, { status: string }> }).checks['consul-config']!
        .status;
    expect(await check()).to.equal('up');
    await consul.kv.set(`${FOLDER}/rate-limit/default/limit`, '7');
    await until('the first change', () => tk!.kernel.configChanges().length === 1);
    await fake.pause();
    await until('readiness degraded', async () => (await check()) === 'degraded');
    expect((tk.kernel.optionsOf('rate-limit') as { default: { limit: number } }).default.limit).to.equal(7);
    await fake.start();
    await consul.kv.set(`${FOLDER}/rate-limit/default/limit`, '8');
    await until('the change after the outage', () => tk!.kernel.configChanges().length === 2);
    expect((tk.kernel.optionsOf('rate-limit') as { default: { limit: number } }).default.limit).to.equal(8);
    expect(await check()).to.equal('up');
  });

  it('Consul unreachable at boot with required: true refuses to start, with a coded error', async () => {
    await fake.pause();
    let err: unknown;
    try {
      tk = await createTestKernel({
        plugins: [http, consulConfig],
        config: { 'consul-config': consulOptions({ required: true }) },
      });
    } catch (e) {
      err = e;
    }
    expect(GantryError.is(err)).to.equal(true);
    expect((err as GantryError).code).to.equal(CoreErrors.CONFIG_SOURCE_FAILED.code);
    expect(ConsulConfigErrors.UNREACHABLE.is((err as GantryError).cause)).to.equal(true);
    expect((err as GantryError).message).to.match(/unreachable/);
  });

  describe('discovery and the circuit-breaker HTTP client', () => {
    const backends: { server: Server; name: string; healthy: boolean; hits: number; port: number }[] = [];
    afterEach(async () => {
      for (const b of backends.splice(0)) await new Promise((r) => b.server.close(r));
    });
    async function backend(name: string) {
      const b = { server: createServer(), name, healthy: true, hits: 0, port: 0 };
      b.server.on('request', (req, res) => {
        if (req.url === '/health') {
          res.writeHead(b.healthy ? 200 : 500);
          return res.end();
        }
        b.hits++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ name, path: req.url }));
      });
      await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', () => r()));
      b.port = (b.server.address() as AddressInfo).port;
      backends.push(b);
      await consul.agent.service.register({
        name: 'backend',
        id: `backend-${name}`,
        address: '127.0.0.1',
        port: b.port,
        check: { http: `http://127.0.0.1:${b.port}/health`, interval: '50ms' },
      } as never);
      return b;
    }

    it('http://<service>/path is balanced over healthy instances; one going unhealthy moves the traffic; none → coded error', async () => {
      const a = await backend('a');
      const b = await backend('b');
      tk = await createTestKernel({
        plugins: [circuitBreaker, consulConfig],
        config: {
          'consul-config': consulOptions(),
          'circuit-breaker': { policies: { backend: { order: ['timeout'], timeout: { ms: 2_000 } } } },
        },
      });
      const discovery = tk.get(DiscoveryToken);
      await until('both instances healthy', async () => (await discovery.resolve('backend')).length === 2);
      const client = tk.get(CircuitBreakersToken).httpClient('backend', { baseUrl: 'http://backend/api' });
      for (let i = 0; i < 10; i++) {
        const res = await client.get(`/orders/${i}`);
        expect(((await res.json()) as { path: string }).path).to.equal(`/api/orders/${i}`);
      }
      expect([a.hits, b.hits]).to.deep.equal([5, 5]);

      b.healthy = false;
      await until('b to leave the healthy list', () => discovery.cached('backend')?.length === 1);
      for (let i = 0; i < 10; i++) await (await client.get('/x')).arrayBuffer();
      expect([a.hits, b.hits]).to.deep.equal([15, 5]);

      a.healthy = false;
      await until('no healthy instance', () => discovery.cached('backend')?.length === 0);
      const err = await client.get('/x').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(CircuitBreakerErrors.NO_HEALTHY_INSTANCE.is(err), String(err)).to.equal(true);
      expect((err as GantryError).message).to.match(/no healthy instance of service "backend"/);

      b.healthy = true;
      await until('b back', () => discovery.cached('backend')?.length === 1);
      const back = (await (await client.get('/y')).json()) as { name: string };
      expect(back.name).to.equal('b');
    });
  });
});
