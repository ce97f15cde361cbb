// The Consul contract fake checked against the `consul` npm client (the design card's, used by the
// consul-config plugin): if the fake drifted from the shapes the client expects, these fail.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import Consul from 'consul';
import { startConsulFake, type ConsulFake } from '../support/consul-fake.js';

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) expect.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A target for HTTP checks whose status code the test sets. */
async function target(): Promise<{ server: Server; url: string; status: { code: number }; port: number }> {
  const status = { code: 200 };
  const server = createServer((_req, res) => {
    res.writeHead(status.code);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return { server, url: `http://127.0.0.1:${port}/readyz`, status, port };
}

// The client's option types omit documented fields (index, wait, ctx): its calls are typed loosely here.
type Any = any;

describe('Consul contract fake, through the consul npm client', () => {
  let fake: ConsulFake;
  let consul: Consul;
  beforeEach(async () => {
    fake = await startConsulFake();
    consul = new Consul({ host: '127.0.0.1', port: fake.port });
  });
  afterEach(async () => {
    consul.destroy();
    await fake.close();
  });

  it('KV set/get: base64 values decoded by the client, indexes and flags', async () => {
    expect(await consul.kv.set('app/a', 'hello')).to.equal(true);
    expect(await consul.kv.set({ key: 'app/b', value: '{"x":1}', flags: 7 } as Any)).to.equal(true);
    const a = (await consul.kv.get('app/a')) as Any;
    expect(a.Key).to.equal('app/a');
    expect(a.Value).to.equal('hello');
    expect(a.Flags).to.equal(0);
    expect(a.LockIndex).to.equal(0);
    expect(a.CreateIndex).to.equal(a.ModifyIndex);
    const b = (await consul.kv.get('app/b')) as Any;
    expect(b.Flags).to.equal(7);
    expect(b.ModifyIndex).to.be.greaterThan(a.ModifyIndex);
    await consul.kv.set('app/a', 'again');
    const a2 = (await consul.kv.get('app/a')) as Any;
    expect(a2.CreateIndex).to.equal(a.CreateIndex);
    expect(a2.ModifyIndex).to.be.greaterThan(b.ModifyIndex);
    expect(await consul.kv.get('app/missing')).to.equal(undefined);
    // On the wire the value is base64, as Consul sends it.
    const raw = (await (await fetch(`${fake.url}/v1/kv/app/a`)).json()) as { Value: string }[];
    expect(raw[0]!.Value).to.equal(Buffer.from('again').toString('base64'));
  });

  it('KV recurse, keys with separator, delete recurse', async () => {
    for (const k of ['svc/x/1', 'svc/x/2', 'svc/y', 'other']) await consul.kv.set(k, k);
    const all = (await consul.kv.get({ key: 'svc/', recurse: true })) as Any[];
    expect(all.map((e) => e.Key)).to.deep.equal(['svc/x/1', 'svc/x/2', 'svc/y']);
    expect(await consul.kv.keys('svc/')).to.deep.equal(['svc/x/1', 'svc/x/2', 'svc/y']);
    expect(await consul.kv.keys({ key: 'svc/', separator: '/' })).to.deep.equal(['svc/x/', 'svc/y']);
    expect(await consul.kv.del({ key: 'svc/x/', recurse: true } as Any)).to.equal(true);
    expect(await consul.kv.keys('svc/')).to.deep.equal(['svc/y']);
    expect(await consul.kv.get({ key: 'nothing/', recurse: true })).to.equal(undefined);
  });

  it('KV check-and-set: cas=0 only creates, cas=<ModifyIndex> only replaces that version', async () => {
    expect(await consul.kv.set({ key: 'lock', value: 'a', cas: 0 })).to.equal(true);
    // A refused cas: Consul answers `false` (the client hands back a falsy body) and nothing changes.
    expect(await consul.kv.set({ key: 'lock', value: 'b', cas: 0 })).to.not.equal(true);
    const cur = (await consul.kv.get('lock')) as Any;
    expect(cur.Value).to.equal('a');
    expect(await consul.kv.set({ key: 'lock', value: 'c', cas: cur.ModifyIndex + 1000 })).to.not.equal(true);
    const raw = await fetch(`${fake.url}/v1/kv/lock?cas=${cur.ModifyIndex + 1000}`, { method: 'PUT', body: 'z' });
    expect(await raw.text()).to.equal('false');
    expect(((await consul.kv.get('lock')) as Any).Value).to.equal('a');
    expect(await consul.kv.set({ key: 'lock', value: 'c', cas: cur.ModifyIndex })).to.equal(true);
    expect(((await consul.kv.get('lock')) as Any).Value).to.equal('c');
    // A stale cas refuses the delete (Consul answers false; the client hands back a falsy body).
    expect(await consul.kv.del({ key: 'lock', cas: cur.ModifyIndex } as Any)).to.not.equal(true);
    const now = (await consul.kv.get('lock')) as Any;
    expect(now.Value).to.equal('c');
    expect(await consul.kv.del({ key: 'lock', cas: now.ModifyIndex } as Any)).to.equal(true);
  });

  it('blocking query: returns when the index moves past the given one, or when the wait elapses, index unchanged', async () => {
    await consul.kv.set('cfg/a', '1');
    const ctx = Object.assign(new (await import('node:events')).EventEmitter(), { includeResponse: true });
    const [res0] = (await consul.kv.get({ key: 'cfg/', recurse: true, ctx } as Any)) as Any;
    const index = res0.headers['x-consul-index'];
    // Nothing changes: the wait elapses and the index is the same.
    const [resIdle, idle] = (await consul.kv.get({
      key: 'cfg/',
      recurse: true,
      index,
      wait: '200ms',
      ctx,
    } as Any)) as Any;
    expect(resIdle.headers['x-consul-index']).to.equal(index);
    expect(idle.map((e: Any) => e.Value)).to.deep.equal(['1']);
    // A write under another prefix does not wake it; one under cfg/ does.
    let settled = false;
    const pending = (
      consul.kv.get({ key: 'cfg/', recurse: true, index, wait: '30s', ctx } as Any) as Promise<Any>
    ).finally(() => {
      settled = true;
    });
    await consul.kv.set('elsewhere', 'x');
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).to.equal(false);
    await consul.kv.set('cfg/b', '2');
    const [resMoved, moved] = await pending;
    expect(Number(resMoved.headers['x-consul-index'])).to.be.greaterThan(Number(index));
    expect(moved.map((e: Any) => e.Key)).to.deep.equal(['cfg/a', 'cfg/b']);
  });

  it('consul.watch sees changes and deletes of a prefix', async () => {
    await consul.kv.set('w/a', '1');
    const seen: string[][] = [];
    const watch = consul.watch({ method: consul.kv.get, options: { key: 'w/', recurse: true } as Any });
    watch.on('change', (data: Any) => seen.push(((data ?? []) as Any[]).map((e) => `${e.Key}=${e.Value}`)));
    watch.on('error', () => undefined);
    try {
      await until('the first answer', () => seen.length >= 1);
      await consul.kv.set('w/b', '2');
      await until('the write', () => seen.some((s) => s.includes('w/b=2')));
      await consul.kv.del('w/a');
      await until('the delete', () => seen.at(-1)!.join() === 'w/b=2');
    } finally {
      watch.end();
    }
  });

  it('agent service register with an HTTP check it polls; health passing; catalog; deregister', async () => {
    const t = await target();
    try {
      await consul.agent.service.register({
        name: 'api',
        id: 'api-1',
        address: '127.0.0.1',
        port: t.port,
        tags: ['v1'],
        check: { http: t.url, interval: '100ms', timeout: '1s' },
      } as Any);
      // Registered checks start critical until polled.
      await until('the check to pass', async () => {
        const healthy = (await consul.health.service({ service: 'api', passing: true })) as Any[];
        return healthy.length === 1;
      });
      const [entry] = (await consul.health.service({ service: 'api', passing: true })) as Any[];
      expect(entry.Service).to.include({ ID: 'api-1', Service: 'api', Address: '127.0.0.1', Port: t.port });
      expect(entry.Checks.map((c: Any) => c.CheckID)).to.deep.equal(['serfHealth', 'service:api-1']);
      const polls = fake.checkPolls('service:api-1');
      await until('more polls at the interval', () => fake.checkPolls('service:api-1') >= polls + 2);

      expect(await consul.catalog.service.list()).to.deep.equal({ consul: [], api: ['v1'] });
      const nodes = (await consul.catalog.service.nodes('api')) as Any[];
      expect(nodes[0]).to.include({ ServiceID: 'api-1', ServiceName: 'api', ServicePort: t.port });
      const agentServices = (await consul.agent.service.list()) as Any;
      expect(Object.keys(agentServices)).to.deep.equal(['api-1']);

      // The target fails: the check goes critical, the instance leaves ?passing but stays in the catalog.
      t.status.code = 503;
      await until('the check to fail', async () => {
        return ((await consul.health.service({ service: 'api', passing: true })) as Any[]).length === 0;
      });
      expect(((await consul.health.service('api')) as Any[]).length).to.equal(1);
      const checks = (await consul.agent.check.list()) as Any;
      expect(checks['service:api-1'].Status).to.equal('critical');

      await consul.agent.service.deregister('api-1');
      expect(await consul.catalog.service.list()).to.deep.equal({ consul: [] });
      expect((await consul.health.service('api')) as Any[]).to.deep.equal([]);
      // Deregistering an unknown service is a 404, as on a real agent.
      const err = await consul.agent.service.deregister('api-1').then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).to.match(/not found/);
      const raw = await fetch(`${fake.url}/v1/agent/service/deregister/api-1`, { method: 'PUT' });
      expect(raw.status).to.equal(404);
      expect(await raw.text()).to.match(/Unknown service ID/);
    } finally {
      t.server.close();
    }
  });

  it('a blocking health query wakes when a check changes status', async () => {
    const t = await target();
    try {
      t.status.code = 500;
      await consul.agent.service.register({
        name: 'web',
        id: 'web-1',
        port: t.port,
        check: { http: t.url, interval: '50ms' },
      } as Any);
      const ctx = Object.assign(new (await import('node:events')).EventEmitter(), { includeResponse: true });
      await until('a first poll', () => fake.checkPolls('service:web-1') >= 1);
      const [res0, list0] = (await consul.health.service({ service: 'web', passing: true, ctx } as Any)) as Any;
      expect(list0).to.deep.equal([]);
      const pending = consul.health.service({
        service: 'web',
        passing: true,
        ctx,
        index: res0.headers['x-consul-index'],
        wait: '30s',
      } as Any) as Promise<Any>;
      t.status.code = 200;
      const [, list1] = await pending;
      expect(list1.map((e: Any) => e.Service.ID)).to.deep.equal(['web-1']);
    } finally {
      t.server.close();
    }
  });

  it('pause() refuses connections and start() listens again with the same state', async () => {
    await consul.kv.set('keep', 'me');
    await fake.pause();
    const err = await consul.kv.get('keep').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(String((err as Any)?.code ?? err?.message)).to.match(/ECONNREFUSED/);
    await fake.start();
    expect(((await consul.kv.get('keep')) as Any).Value).to.equal('me');
  });
});
