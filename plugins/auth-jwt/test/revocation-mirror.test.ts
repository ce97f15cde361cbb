// The revocation mirror's own rules, with a watch whose liveness the test sets (the watch itself, pushed
// by the real Redis, is tested in plugins/redis/test/key-watch.redis.test.ts and through the token store
// in shared.redis.test.ts).
import type { KeyWatch } from '@gantry/plugin-redis';
import { expect } from 'chai';
import { RevocationMirror } from '../src/revocation-mirror.js';

/** A watch the test switches on and off. */
function switchableWatch(): KeyWatch & { live: boolean } {
  return { live: true, close: async () => undefined };
}

describe('auth-jwt: revocation mirror', () => {
  const T0 = 1_000_000;

  it('keeps a read made while the watch is live, until its TTL', () => {
    const mirror = new RevocationMirror({ max: 100, ttlMs: 1_000 });
    mirror.attach(switchableWatch());
    mirror.keep(mirror.ticket(), ['fam:a', 'sub:u'], [null, '42'], T0);
    expect(mirror.get('fam:a', T0 + 999)).to.equal(null);
    expect(mirror.get('sub:u', T0 + 999)).to.equal('42');
    expect(mirror.get('sub:u', T0 + 1_000), 'expired').to.equal(undefined);
    expect(mirror.get('other', T0)).to.equal(undefined);
  });

  it('does not keep a reply when an invalidation came while the read was in flight', () => {
    const mirror = new RevocationMirror({ max: 100, ttlMs: 1_000 });
    mirror.attach(switchableWatch());
    const ticket = mirror.ticket();
    // Redis pushed a change of another key: the reply may still predate a change of ours; not kept either.
    mirror.invalidate(['fam:other']);
    mirror.keep(ticket, ['fam:a', 'sub:u'], [null, null], T0);
    expect(mirror.get('fam:a', T0)).to.equal(undefined);
    expect(mirror.stats().size).to.equal(0);
  });

  it('keeps nothing while the watch is not live, and answers nothing kept once it stops being live', () => {
    const watch = switchableWatch();
    const mirror = new RevocationMirror({ max: 100, ttlMs: 1_000 });
    expect(mirror.ticket(), 'no watch attached').to.equal(-1);
    mirror.attach(watch);
    watch.live = false;
    expect(mirror.ticket()).to.equal(-1);
    mirror.keep(-1, ['fam:a'], [null], T0);
    watch.live = true;
    expect(mirror.get('fam:a', T0)).to.equal(undefined);

    const ticket = mirror.ticket();
    watch.live = false;
    mirror.keep(ticket, ['fam:b'], [null], T0);
    watch.live = true;
    expect(mirror.get('fam:b', T0), 'the watch went down during the read').to.equal(undefined);

    mirror.keep(mirror.ticket(), ['fam:c'], ['1'], T0);
    watch.live = false;
    expect(mirror.get('fam:c', T0)).to.equal(undefined);
  });

  it('forgets the keys an invalidation names, and everything on null', () => {
    const mirror = new RevocationMirror({ max: 100, ttlMs: 1_000 });
    mirror.attach(switchableWatch());
    mirror.keep(mirror.ticket(), ['fam:a', 'fam:b', 'sub:u'], [null, null, '7'], T0);
    mirror.invalidate(['fam:a']);
    expect([mirror.get('fam:a', T0), mirror.get('fam:b', T0), mirror.get('sub:u', T0)]).to.deep.equal([
      undefined,
      null,
      '7',
    ]);
    mirror.invalidate(null);
    expect(mirror.stats().size).to.equal(0);
  });

  it('holds at most `max` keys, dropping the oldest read first', () => {
    const mirror = new RevocationMirror({ max: 3, ttlMs: 1_000 });
    mirror.attach(switchableWatch());
    for (const key of ['k1', 'k2', 'k3']) mirror.keep(mirror.ticket(), [key], [null], T0);
    // Read again: k1 becomes the newest.
    mirror.keep(mirror.ticket(), ['k1'], ['1'], T0);
    mirror.keep(mirror.ticket(), ['k4'], [null], T0);
    expect(mirror.stats().size).to.equal(3);
    expect(['k1', 'k2', 'k3', 'k4'].map((k) => mirror.get(k, T0))).to.deep.equal(['1', undefined, null, null]);
  });

  it('forgets everything when attached to another watch or detached', () => {
    const mirror = new RevocationMirror({ max: 10, ttlMs: 1_000 });
    mirror.attach(switchableWatch());
    mirror.keep(mirror.ticket(), ['fam:a'], [null], T0);
    mirror.attach(switchableWatch());
    expect(mirror.get('fam:a', T0)).to.equal(undefined);
    mirror.keep(mirror.ticket(), ['fam:a'], [null], T0);
    mirror.attach(undefined);
    expect(mirror.stats()).to.deep.include({ size: 0, live: false });
  });

  it('releases a writer waiting for a key once Redis pushes that key (or everything), not for its own invalidation', async () => {
    const watch = switchableWatch();
    const mirror = new RevocationMirror({ max: 10, ttlMs: 1_000 });
    mirror.attach(watch);
    const settled: string[] = [];
    const track = (name: string, p: Promise<void> | undefined): void => {
      void p?.then(() => settled.push(name));
    };
    track('fam:a', mirror.changeOf('fam:a', 10_000));
    track('fam:b', mirror.changeOf('fam:b', 10_000));
    track('fam:c', mirror.changeOf('fam:c', 10_000));
    const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

    mirror.invalidate(['fam:a']);
    mirror.pushed(['fam:other']);
    await tick();
    expect(settled, 'a local invalidation or another key releases nobody').to.deep.equal([]);
    mirror.pushed(['fam:a']);
    await tick();
    expect(settled).to.deep.equal(['fam:a']);
    mirror.pushed(null);
    await tick();
    expect(settled.sort()).to.deep.equal(['fam:a', 'fam:b', 'fam:c']);

    const started = Date.now();
    await mirror.changeOf('fam:d', 30);
    expect(Date.now() - started, 'bounded by its timeout').to.be.at.least(25);
    watch.live = false;
    expect(mirror.changeOf('fam:e', 10), 'nothing to wait for without a live watch').to.equal(undefined);
  });
});
