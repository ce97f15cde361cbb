// RedisConnection.watchKeys against the real Redis (REDIS_HOST:REDIS_PORT, default 127.0.0.1:6379):
// invalidations pushed by CLIENT TRACKING (broadcasting mode) for the keys under the watched prefixes,
// a lost connection (through a TCP relay), a server refusing tracking (an ACL user), close.
import { randomBytes } from 'node:crypto';
import { memoryLogger, type LogLine, TcpProxy, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { type KeyWatch, RedisToken } from '../src/index.js';
import { boot, eventually, REDIS, REDIS_URL } from './support/probe.js';

describe('redis: watchKeys (changes pushed by Redis)', () => {
  const prefix = `gantry:watch-test:${randomBytes(6).toString('hex')}:`;
  const kernels: TestKernel[] = [];
  const proxies: TcpProxy[] = [];
  let admin: Redis;

  const start = async (url: string, logger?: ReturnType<typeof memoryLogger>): Promise<TestKernel> => {
    const kernel = await boot({ url }, { logger });
    kernels.push(kernel);
    return kernel;
  };
  /** A watch of `<prefix>a:` and `<prefix>b:` recording every listener call. */
  const watch = async (kernel: TestKernel): Promise<{ watch: KeyWatch; calls: (readonly string[] | null)[] }> => {
    const calls: (readonly string[] | null)[] = [];
    const w = await kernel.get(RedisToken).watchKeys([`${prefix}a:`, `${prefix}b:`], (keys) => calls.push(keys));
    return { watch: w, calls };
  };
  const keysOf = (calls: readonly (readonly string[] | null)[]): string[] =>
    calls.flatMap((c) => c ?? []).map((k) => k.slice(prefix.length));

  before(() => {
    admin = new Redis(REDIS_URL);
  });
  afterEach(async () => {
    while (kernels.length > 0) await kernels.pop()!.stop();
    while (proxies.length > 0) await proxies.pop()!.stop();
  });
  after(async () => {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  it('is live once started, and pushes every change of a key under its prefixes (set, script, delete, expiry), nothing else', async () => {
    const { watch: w, calls } = await watch(await start(REDIS_URL));
    expect(w.live, 'armed before watchKeys resolves').to.equal(true);
    const armedCalls = calls.length;

    await admin.set(`${prefix}a:1`, 'x');
    await admin.eval("redis.call('SET', KEYS[1], '5', 'EX', 60) return 1", 1, `${prefix}b:2`);
    await admin.set(`${prefix}c:3`, 'other prefix');
    await admin.mset(`${prefix}a:4`, '1', `${prefix}a:5`, '2');
    await admin.del(`${prefix}a:1`);
    await admin.set(`${prefix}b:6`, 'short', 'PX', 30);
    await new Promise((resolve) => setTimeout(resolve, 60));
    // An expired key is reported when Redis deletes it (here on access; else by its expiry cycle).
    expect(await admin.get(`${prefix}b:6`)).to.equal(null);
    await eventually(async () => keysOf(calls).length >= 7, 100, 20);

    expect(calls.slice(armedCalls).every((c) => c !== null)).to.equal(true);
    expect(keysOf(calls)).to.have.members(['a:1', 'b:2', 'a:4', 'a:5', 'a:1', 'b:6', 'b:6']);
    expect(keysOf(calls), 'a key of another prefix is not reported').not.to.include('c:3');
    expect(w.live).to.equal(true);
  });

  it('forgets everything when its connection is lost, and is live again (pushing changes) once Redis is back', async () => {
    const proxy = new TcpProxy(REDIS);
    await proxy.start();
    proxies.push(proxy);
    const { watch: w, calls } = await watch(await start(`redis://127.0.0.1:${proxy.port}`));
    expect(w.live).to.equal(true);

    await proxy.stop();
    await eventually(async () => !w.live, 100, 20);
    expect(calls.at(-1), 'the lost connection tells the listener to forget everything').to.equal(null);

    await proxy.start();
    await eventually(async () => w.live, 100, 50);
    expect(calls.at(-1), 're-armed: anything kept meanwhile is forgotten').to.equal(null);
    await admin.set(`${prefix}a:after`, '1');
    await eventually(async () => keysOf(calls).includes('a:after'), 100, 20);
  });

  it('never goes live on a server that refuses CLIENT TRACKING, with one warning', async () => {
    const user = `gantry-watch-test-${randomBytes(4).toString('hex')}`;
    await admin.call('ACL', 'SETUSER', user, 'on', '>pw', '~*', '&*', '+@all', '-client|tracking');
    try {
      const lines: LogLine[] = [];
      const kernel = await start(`redis://${user}:pw@${REDIS.host}:${REDIS.port}`, memoryLogger(lines));
      const { watch: w } = await watch(kernel);
      expect(w.live).to.equal(false);
      const warnings = lines.filter((l) => l.msg.startsWith('Redis refused CLIENT TRACKING'));
      expect(warnings.map((l) => [l.level, l.fields.code])).to.deep.equal([['warn', 'NOPERM']]);
      expect(JSON.stringify(warnings), 'no password in the log').not.to.include(':pw@');
      // The shared connection itself works: only the watch is refused.
      expect(await kernel.get(RedisToken).run((c) => c.ping())).to.equal('PONG');
    } finally {
      await admin.call('ACL', 'DELUSER', user);
    }
  });

  it('is closed with the connection (and by close()), telling the listener to forget', async () => {
    const kernel = await start(REDIS_URL);
    const first = await watch(kernel);
    const second = await watch(kernel);
    await second.watch.close();
    expect(second.watch.live).to.equal(false);
    expect(second.calls.at(-1)).to.equal(null);
    await kernels.pop()!.stop();
    expect(first.watch.live).to.equal(false);
    expect(first.calls.at(-1)).to.equal(null);
    const before = first.calls.length;
    await admin.set(`${prefix}a:closed`, '1');
    await new Promise((r) => setTimeout(r, 50));
    expect(first.calls.length, 'nothing arrives after close').to.equal(before);
  });

  it('refuses a watch without a prefix', async () => {
    const kernel = await start(REDIS_URL);
    let error: unknown;
    await kernel
      .get(RedisToken)
      .watchKeys([], () => undefined)
      .catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(TypeError);
  });
});
