// The websocket plugin in one process, on a real listening server with real ws clients: upgrade
// authentication, channel authorization, limits, backpressure, heartbeat and graceful shutdown.
import { EventBusToken } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { AuthJwtToken } from '@gantry/plugin-auth-jwt';
import { SessionsToken } from '@gantry/plugin-sessions-redis';
import { plugin as metricsPlugin } from '@gantry/plugin-metrics';
import { plugin as rateLimitPlugin } from '@gantry/plugin-rate-limit';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { definePlugin } from '@gantry/core';
import { expect } from 'chai';
import { plugin, WebSocketToken } from '../src/index.js';
import { boot, connect, grant, open, ORIGIN, signedIn, tokenFor, until, wsUrl, type Peer } from './support/harness.js';

describe('websocket', function () {
  this.timeout(30_000);
  let kernel: TestKernel;
  const peers: Peer[] = [];
  const track = (p: Peer): Peer => {
    peers.push(p);
    return p;
  };

  before(async () => {
    kernel = await boot();
  });
  afterEach(() => {
    while (peers.length) peers.pop()!.ws.terminate();
  });
  after(async () => {
    await kernel.stop();
  });

  describe('authentication on upgrade', () => {
    it('accepts a bearer token offered as a subprotocol, selects only gantry.v1, and says who is signed in', async () => {
      const token = await tokenFor(kernel, 'alice');
      const peer = track(await open(wsUrl(kernel), { protocols: ['gantry.v1', `gantry.bearer.${token}`] }));
      expect(peer.ws.protocol).to.equal('gantry.v1');
      expect(await peer.next((m) => m.type === 'welcome')).to.deep.equal({ type: 'welcome', user: { id: 'alice' } });
    });

    it('refuses a bad or tampered token with 401 before the upgrade', async () => {
      const token = await tokenFor(kernel, 'alice');
      for (const bad of ['not.a.jwt', `${token.slice(0, -4)}AAAA`]) {
        const attempt = await connect(wsUrl(kernel), { protocols: ['gantry.v1', `gantry.bearer.${bad}`] });
        expect(attempt.ok, bad).to.equal(false);
        if (attempt.ok) continue;
        expect(attempt.status).to.equal(401);
        expect(String(attempt.body.code)).to.match(/^GANTRY_AUTH_JWT_/);
      }
      const header = await connect(wsUrl(kernel), { headers: { authorization: 'Basic Zm9vOmJhcg==' } });
      expect(header.ok).to.equal(false);
      if (!header.ok) expect(header.body.code).to.equal('GANTRY_WEBSOCKET_INVALID_TOKEN');
    });

    it('closes a connection without credentials with 4401 when no auth message comes in time', async () => {
      const short = await boot({ websocket: { authTimeoutMs: 150 } });
      try {
        const peer = await open(wsUrl(short));
        peer.send({ type: 'subscribe', channel: 'news' });
        const refused = await peer.next((m) => m.type === 'error');
        expect(refused.code).to.equal('GANTRY_WEBSOCKET_UNAUTHENTICATED');
        expect((await peer.closed).code).to.equal(4401);
      } finally {
        await short.stop();
      }
    });

    it('refuses an upgrade without credentials with 401 when first-message auth is off', async () => {
      const strict = await boot({ websocket: { firstMessageAuth: false } });
      try {
        const attempt = await connect(wsUrl(strict));
        expect(attempt.ok).to.equal(false);
        if (!attempt.ok) {
          expect(attempt.status).to.equal(401);
          expect(attempt.body.code).to.equal('GANTRY_WEBSOCKET_UNAUTHENTICATED');
        }
      } finally {
        await strict.stop();
      }
    });

    it('accepts the token as the first message, and closes 4401 on a bad one', async () => {
      const peer = track(await open(wsUrl(kernel)));
      peer.send({ type: 'auth', token: await tokenFor(kernel, 'bob') });
      expect(await peer.next((m) => m.type === 'welcome')).to.deep.include({ user: { id: 'bob' } });

      const other = track(await open(wsUrl(kernel)));
      other.send({ type: 'auth', token: 'garbage' });
      expect((await other.next((m) => m.type === 'error')).code).to.match(/^GANTRY_AUTH_JWT_/);
      expect((await other.closed).code).to.equal(4401);
    });

    it('accepts the session cookie only from an allowed Origin (cross-site WebSocket hijacking)', async () => {
      const login = await fetch(`${kernel.url()}/api/v1/test-login/carol`, { method: 'POST' });
      expect(login.status).to.equal(204);
      const cookie = login.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      expect(cookie).to.include('=');

      const foreign = await connect(wsUrl(kernel), { headers: { cookie, origin: 'https://evil.example' } });
      expect(foreign.ok).to.equal(false);
      if (!foreign.ok) {
        expect(foreign.status).to.equal(403);
        expect(foreign.body.code).to.equal('GANTRY_WEBSOCKET_ORIGIN_NOT_ALLOWED');
      }
      const noOrigin = await connect(wsUrl(kernel), { headers: { cookie } });
      expect(noOrigin.ok).to.equal(false);

      const peer = track(await open(wsUrl(kernel), { headers: { cookie, origin: ORIGIN } }));
      expect(await peer.next((m) => m.type === 'welcome')).to.deep.include({ user: { id: 'carol' } });
    });

    it('answers a plain GET on the endpoint with 426 and an unknown upgrade path with 404', async () => {
      const plain = await fetch(`${kernel.url()}/ws`);
      expect(plain.status).to.equal(426);
      const elsewhere = await connect(`${kernel.url().replace(/^http/, 'ws')}/elsewhere`);
      expect(elsewhere.ok).to.equal(false);
      if (!elsewhere.ok) expect(elsewhere.status).to.equal(404);
    });
  });

  describe('channels', () => {
    it('a user never receives another user’s channel, and may not subscribe to it', async () => {
      const alice = track(await signedIn(wsUrl(kernel), await tokenFor(kernel, 'alice')));
      const bob = track(await signedIn(wsUrl(kernel), await tokenFor(kernel, 'bob')));
      bob.send({ type: 'subscribe', channel: 'user:alice', id: 1 });
      const refused = await bob.next((m) => m.id === 1);
      expect(refused).to.deep.include({ type: 'error', code: 'GANTRY_WEBSOCKET_FORBIDDEN' });

      const hub = kernel.get(WebSocketToken);
      await hub.publish('user:alice', { secret: 'for alice' });
      await hub.publish('user:bob', { secret: 'for bob' });
      expect((await alice.next((m) => m.type === 'message')).data).to.deep.equal({ secret: 'for alice' });
      expect((await bob.next((m) => m.type === 'message')).data).to.deep.equal({ secret: 'for bob' });
      // Both deliveries are in; bob's stream holds nothing of alice's.
      expect(bob.received.filter((m) => m.type === 'message').map((m) => m.channel)).to.deep.equal(['user:bob']);
      expect(alice.received.filter((m) => m.type === 'message').map((m) => m.channel)).to.deep.equal(['user:alice']);
    });

    it('checks permission channels per subscription through rbac, and refuses undeclared channels', async () => {
      await grant(kernel, 'olga', 'operator');
      const olga = track(await signedIn(wsUrl(kernel), await tokenFor(kernel, 'olga')));
      const dan = track(await signedIn(wsUrl(kernel), await tokenFor(kernel, 'dan')));
      olga.send({ type: 'subscribe', channel: 'ops', id: 'a' });
      dan.send({ type: 'subscribe', channel: 'ops', id: 'a' });
      dan.send({ type: 'subscribe', channel: 'members', id: 'b' });
      dan.send({ type: 'subscribe', channel: 'nowhere', id: 'c' });
      expect(await olga.next((m) => m.id === 'a')).to.deep.include({ type: 'subscribed', channel: 'ops' });
      expect(await dan.next((m) => m.id === 'a')).to.deep.include({
        type: 'error',
        code: 'GANTRY_WEBSOCKET_FORBIDDEN',
      });
      expect(await dan.next((m) => m.id === 'b')).to.deep.include({ type: 'subscribed', channel: 'members' });
      expect(await dan.next((m) => m.id === 'c')).to.deep.include({
        type: 'error',
        code: 'GANTRY_WEBSOCKET_CHANNEL_UNKNOWN',
      });

      await kernel.get(WebSocketToken).publish('ops', { alert: 1 });
      expect((await olga.next((m) => m.type === 'message')).channel).to.equal('ops');
      await kernel.get(WebSocketToken).publish('members', { hello: 1 });
      expect((await dan.next((m) => m.type === 'message')).channel).to.equal('members');
      expect(dan.received.some((m) => m.channel === 'ops')).to.equal(false);
    });

    it('pushes kernel event-bus events to the mapped user channel', async () => {
      const erin = track(await signedIn(wsUrl(kernel), await tokenFor(kernel, 'erin')));
      await kernel.get(EventBusToken).publish({ topic: 'feed.notified', payload: { userId: 'erin', text: 'hi' } });
      expect(await erin.next((m) => m.type === 'message')).to.deep.equal({
        type: 'message',
        channel: 'user:erin',
        data: { text: 'hi' },
      });
    });

    it('pushes events named in the forward option, with the channel filled in from the event', async () => {
      const configured = await boot({
        websocket: { forward: [{ topic: 'orders.shipped', channel: 'user:{payload.buyerId}' }] },
      });
      try {
        const quinn = await signedIn(wsUrl(configured), await tokenFor(configured, 'quinn'));
        const bus = configured.get(EventBusToken);
        // An event missing the field names no channel: skipped, not sent to "user:".
        await bus.publish({ topic: 'orders.shipped', payload: { order: 1 } });
        await bus.publish({ topic: 'orders.shipped', payload: { buyerId: 'quinn', order: 2 } });
        expect(await quinn.next((m) => m.type === 'message')).to.deep.equal({
          type: 'message',
          channel: 'user:quinn',
          data: { buyerId: 'quinn', order: 2 },
        });
      } finally {
        await configured.stop();
      }
    });

    it('answers malformed messages with a coded error and keeps the connection', async () => {
      const peer = track(await signedIn(wsUrl(kernel), await tokenFor(kernel, 'frank')));
      peer.send('{not json');
      expect((await peer.next((m) => m.type === 'error')).code).to.equal('GANTRY_WEBSOCKET_BAD_MESSAGE');
      peer.send({ type: 'ping', id: 7 });
      expect(await peer.next((m) => m.type === 'pong')).to.deep.equal({ type: 'pong', id: 7 });
    });

    it('refuses the boot when a channel declares no access', async () => {
      const careless = definePlugin({
        name: 'careless',
        version: '0.1.0',
        kernel: '^0.1.0',
        dependsOn: ['websocket'],
        register(ctx) {
          ctx.container.get(WebSocketToken).channel({ name: 'open', access: undefined as never });
        },
      });
      let caught: unknown;
      try {
        const k = await createTestKernel({ plugins: [httpPlugin, plugin, careless] });
        await k.stop();
      } catch (err) {
        caught = err;
      }
      expect((caught as { cause?: { code?: string } }).cause?.code).to.equal('GANTRY_WEBSOCKET_CHANNEL_INVALID');
    });

    it('refuses the boot when an authenticated channel has no authenticator', async () => {
      const members = definePlugin({
        name: 'members',
        version: '0.1.0',
        kernel: '^0.1.0',
        dependsOn: ['websocket'],
        register(ctx) {
          ctx.container.get(WebSocketToken).channel({ name: 'members', access: 'authenticated' });
        },
      });
      let caught: unknown;
      try {
        const k = await createTestKernel({ plugins: [httpPlugin, plugin, members] });
        await k.stop();
      } catch (err) {
        caught = err;
      }
      expect((caught as { cause?: { code?: string } }).cause?.code).to.equal('GANTRY_WEBSOCKET_CHANNEL_UNGUARDED');
    });
  });

  describe('limits', () => {
    it('closes a connection that sends a message over maxPayloadBytes with 1009', async () => {
      const small = await boot({ websocket: { maxPayloadBytes: 1024 } });
      try {
        const peer = await signedIn(wsUrl(small), await tokenFor(small, 'gus'));
        peer.send({ type: 'ping', pad: 'x'.repeat(2048) });
        expect((await peer.closed).code).to.equal(1009);
        await until(() => small.get(WebSocketToken).stats().connections === 0, 5_000, 'connection closed');
      } finally {
        await small.stop();
      }
    });

    it('refuses upgrades past maxConnections with a coded 503', async () => {
      const small = await boot({ websocket: { maxConnections: 1 } });
      try {
        await signedIn(wsUrl(small), await tokenFor(small, 'one'));
        const second = await connect(wsUrl(small), {
          protocols: ['gantry.v1', `gantry.bearer.${await tokenFor(small, 'two')}`],
        });
        expect(second.ok).to.equal(false);
        if (!second.ok) expect(second.body.code).to.equal('GANTRY_WEBSOCKET_TOO_MANY_CONNECTIONS');
      } finally {
        await small.stop();
      }
    });

    it('counts upgrades per client IP under the rate-limit policy, before any credential is checked', async () => {
      const limited = await boot({
        extra: [rateLimitPlugin],
        websocket: { rateLimit: 'upgrades' },
        config: {
          http: { listen: true, port: 0, host: '127.0.0.1', trustProxy: 1 },
          'rate-limit': { store: 'memory', policies: { upgrades: { windowMs: 60_000, limit: 3 } } },
        },
      });
      try {
        const url = wsUrl(limited);
        await signedIn(url, await tokenFor(limited, 'one'));
        // A refused credential spends the budget too: guessing tokens is what the limit is for.
        const guess = await connect(url, { protocols: ['gantry.v1', 'gantry.bearer.not.a.jwt'] });
        expect(guess.ok).to.equal(false);
        if (!guess.ok) expect(guess.status).to.equal(401);
        // The plain GET on the endpoint is counted under the same policy.
        expect((await fetch(`${limited.url()}/ws`)).status).to.equal(426);
        const refused = await connect(url, {
          protocols: ['gantry.v1', `gantry.bearer.${await tokenFor(limited, 'two')}`],
        });
        expect(refused.ok).to.equal(false);
        if (!refused.ok) {
          expect(refused.status).to.equal(429);
          expect(refused.body).to.include({ code: 'GANTRY_RATE_LIMIT_EXCEEDED', policy: 'upgrades' });
        }
        const plain = await fetch(`${limited.url()}/ws`);
        expect(plain.status).to.equal(429);
        expect(Number(plain.headers.get('retry-after'))).to.be.within(1, 60);
        // Another client behind the trusted proxy has a budget of its own.
        await signedIn(url, await tokenFor(limited, 'three'), { 'x-forwarded-for': '198.51.100.23' });
      } finally {
        await limited.stop();
      }
    });

    it('exempts upgrades with rateLimit false, and refuses the boot on a policy that does not exist', async () => {
      const tight = { store: 'memory', default: { windowMs: 60_000, limit: 1 } };
      const exempt = await boot({
        extra: [rateLimitPlugin],
        websocket: { rateLimit: false },
        config: { 'rate-limit': tight },
      });
      try {
        for (const user of ['a', 'b', 'c']) await signedIn(wsUrl(exempt), await tokenFor(exempt, user));
      } finally {
        await exempt.stop();
      }
      const failure = await boot({
        extra: [rateLimitPlugin],
        websocket: { rateLimit: 'nope' },
        config: { 'rate-limit': tight },
      }).then(
        (k) => k.stop().then(() => undefined),
        (err: unknown) => err,
      );
      const cause = (failure as { cause?: { code?: string; message?: string } } | undefined)?.cause;
      expect(cause?.code, String(failure)).to.equal('GANTRY_RATE_LIMIT_UNKNOWN_POLICY');
      expect(cause?.message).to.contain('GET /ws of plugin "websocket" declares meta.rateLimit "nope"');
    });

    it('refuses messages over the per-connection rate with a coded error, then closes 1008', async () => {
      const tight = await boot({ websocket: { messagesPerSecond: 1, burst: 3, maxRateViolations: 5 } });
      try {
        const peer = await signedIn(wsUrl(tight), await tokenFor(tight, 'hal'));
        for (let i = 0; i < 20; i++) peer.send({ type: 'ping', id: i });
        expect(await peer.next((m) => m.code === 'GANTRY_WEBSOCKET_RATE_LIMITED')).to.include({ type: 'error' });
        expect((await peer.closed).code).to.equal(1008);
        expect(peer.received.filter((m) => m.type === 'pong').length).to.be.within(3, 4);
      } finally {
        await tight.stop();
      }
    });

    it('bounds a slow consumer’s buffer: messages are dropped and counted, memory does not grow', async () => {
      const maxBufferedBytes = 64 * 1024;
      const slow = await boot({ websocket: { maxBufferedBytes } });
      try {
        const peer = await signedIn(wsUrl(slow), await tokenFor(slow, 'ivy'));
        // The client stops reading: the TCP buffers fill, then the server's queue.
        (peer.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
        const hub = slow.get(WebSocketToken);
        const payload = { blob: 'y'.repeat(8 * 1024) };
        let peak = 0;
        for (let i = 0; i < 4_000; i++) {
          await hub.publish('user:ivy', payload);
          if (i % 50 === 0) await new Promise((r) => setImmediate(r));
          peak = Math.max(peak, ...hub.bufferedAmounts());
        }
        const stats = hub.stats();
        expect(stats.dropped).to.be.greaterThan(0);
        expect(peak).to.be.at.most(maxBufferedBytes);
        expect(stats.messagesOut + stats.dropped).to.be.at.least(4_000);
      } finally {
        await slow.stop();
      }
    });

    it('closes a slow consumer with 1013 when the policy is close', async () => {
      const slow = await boot({ websocket: { maxBufferedBytes: 16 * 1024, slowConsumer: 'close' } });
      try {
        const peer = await signedIn(wsUrl(slow), await tokenFor(slow, 'jay'));
        (peer.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
        const hub = slow.get(WebSocketToken);
        for (let i = 0; i < 2_000 && hub.stats().dropped === 0; i++) {
          await hub.publish('user:jay', { blob: 'z'.repeat(8 * 1024) });
          if (i % 50 === 0) await new Promise((r) => setImmediate(r));
        }
        expect(hub.stats().dropped).to.be.greaterThan(0);
        // The client reads again and gets the close frame queued after the data.
        (peer.ws as unknown as { _socket: import('node:net').Socket })._socket.resume();
        await until(() => hub.stats().closes['1013'] === 1 || hub.stats().closes['1006'] === 1, 10_000, 'close');
        expect(hub.stats().connections).to.equal(0);
      } finally {
        await slow.stop();
      }
    });

    it('closes a connection whose token was revoked (logout) at the next heartbeat, with 4401', async () => {
      const beating = await boot({ websocket: { heartbeatMs: 100 } });
      try {
        const pair = await beating.get(AuthJwtToken).issuePair('olly');
        const peer = await signedIn(wsUrl(beating), pair.accessToken);
        const other = await signedIn(wsUrl(beating), await tokenFor(beating, 'pat'));
        await beating.get(AuthJwtToken).revokeFamily(pair.sessionId);
        expect((await peer.closed).code).to.equal(4401);
        expect(other.ws.readyState).to.equal(other.ws.OPEN);
      } finally {
        await beating.stop();
      }
    });

    it('closes a cookie connection whose session ended (logout, revocation) at the next heartbeat, with 4401', async () => {
      const beating = await boot({ websocket: { heartbeatMs: 100 } });
      try {
        const cookieOf = async (user: string) =>
          (await fetch(`${beating.url()}/api/v1/test-login/${user}`, { method: 'POST' })).headers
            .getSetCookie()
            .map((c) => c.split(';')[0])
            .join('; ');
        const quinn = await cookieOf('quinn');
        const peer = await open(wsUrl(beating), { headers: { cookie: quinn, origin: ORIGIN } });
        await peer.next((m) => m.type === 'welcome');
        const rae = await open(wsUrl(beating), { headers: { cookie: await cookieOf('rae'), origin: ORIGIN } });
        await rae.next((m) => m.type === 'welcome');
        // Several heartbeats with the session live: the connection stays.
        await new Promise((resolve) => setTimeout(resolve, 350));
        expect(peer.ws.readyState).to.equal(peer.ws.OPEN);
        const sessions = beating.get(SessionsToken);
        const [session] = await sessions.list('quinn');
        expect(await sessions.revoke('quinn', session!.id)).to.equal(true);
        expect((await peer.closed).code).to.equal(4401);
        expect(rae.ws.readyState).to.equal(rae.ws.OPEN);
        rae.ws.terminate();
      } finally {
        await beating.stop();
      }
    });

    it('terminates a peer that stops answering pings', async () => {
      const beating = await boot({ websocket: { heartbeatMs: 100 } });
      try {
        const token = await tokenFor(beating, 'kim');
        const dead = await open(wsUrl(beating), {
          protocols: ['gantry.v1', `gantry.bearer.${token}`],
          autoPong: false,
        });
        const live = await signedIn(wsUrl(beating), await tokenFor(beating, 'lee'));
        expect((await dead.closed).code).to.equal(1006);
        await until(() => beating.get(WebSocketToken).stats().connections === 1, 5_000, 'dead peer dropped');
        // Several heartbeats passed: the peer that answers is still there.
        expect(live.ws.readyState).to.equal(live.ws.OPEN);
      } finally {
        await beating.stop();
      }
    });
  });

  describe('metrics', () => {
    it('exports open connections, messages in/out, drops and closes by code', async () => {
      const measured = await boot({ extra: [metricsPlugin] });
      try {
        const peer = await signedIn(wsUrl(measured), await tokenFor(measured, 'max'));
        peer.send({ type: 'ping', id: 1 });
        await peer.next((m) => m.type === 'pong');
        const other = await signedIn(wsUrl(measured), await tokenFor(measured, 'ned'));
        other.ws.close(4000, 'bye');
        await until(() => measured.get(WebSocketToken).stats().connections === 1, 5_000, 'one closed');
        const text = await (await fetch(`${measured.url()}/metrics`)).text();
        expect(text).to.match(/^websocket_connections 1$/m);
        expect(text).to.match(/^websocket_messages_received_total 1$/m);
        expect(text).to.match(/^websocket_messages_sent_total [3-9]$/m);
        expect(text).to.match(/^websocket_closes_total\{code="4000"\} 1$/m);
        expect(text).to.match(/^websocket_messages_dropped_total 0$/m);
      } finally {
        await measured.stop();
      }
    });
  });

  describe('shutdown', () => {
    it('closes every socket with 1001 when the kernel stops, and refuses new upgrades', async () => {
      const k = await boot();
      const url = wsUrl(k);
      const clients = await Promise.all(['m1', 'm2', 'm3'].map(async (id) => signedIn(url, await tokenFor(k, id))));
      await k.stop();
      for (const c of clients) expect((await c.closed).code).to.equal(1001);
      await connect(url).then(
        (attempt) => expect(attempt.ok).to.equal(false),
        (err: NodeJS.ErrnoException) => expect(err.code).to.equal('ECONNREFUSED'),
      );
    });
  });
});
