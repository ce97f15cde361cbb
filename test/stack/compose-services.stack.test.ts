// The sandbox's compose profile booted as a real process against the real services it names, on
// loopback: Kafka 3.9 on ZooKeeper (test/services/kafka.sh), PostgreSQL, Redis and MailDev's SMTP
// (standing for MailHog; both catch mail); Consul and Logstash
// cannot run here, so the Consul contract fake (test/support/consul-fake.ts) and a TCP json_lines
// listener standing for Logstash's tcp input (a fake, named as such) take their places. Each host of
// the profile is moved to loopback by its GANTRY_<PLUGIN>__<KEY> variable, as an operator would.
// Run by `npm run test:stack`.
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { MailCatcher } from '@gantry/testing/maildev';
import { expect } from 'chai';
import { type ConsulFake, startConsulFake } from '../support/consul-fake.js';
import { consoleConsume } from '../support/kafka-console.js';
import { type Instance, LoopbackStack, until } from './loopback.js';

const KAFKA = `127.0.0.1:${process.env.KAFKA_PORT ?? '9092'}`;

/** Fake Logstash: a TCP listener that reads one JSON document per line, as the tcp input with codec json_lines. */
class FakeLogstash {
  readonly lines: Record<string, unknown>[] = [];
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeLogstash> {
    let sink!: FakeLogstash;
    const server = createServer((socket) => {
      sink.sockets.add(socket);
      socket.once('close', () => sink.sockets.delete(socket));
      socket.on('error', () => undefined);
      let rest = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        rest += chunk;
        for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n')) {
          const line = rest.slice(0, nl);
          rest = rest.slice(nl + 1);
          if (line.trim()) sink.lines.push(JSON.parse(line) as Record<string, unknown>);
        }
      });
    });
    sink = new FakeLogstash(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return sink;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

interface Readiness {
  status: string;
  checks: Record<string, { status: string }>;
}

describe('the compose profile against the real services (Kafka on ZooKeeper, PostgreSQL, Redis; Consul and Logstash fakes)', function () {
  this.timeout(180_000);
  const prefix = `compose${randomBytes(3).toString('hex')}.`;
  let consul: ConsulFake;
  let logstash: FakeLogstash;
  const mail = new MailCatcher();
  let stack: LoopbackStack;
  let app: Instance;

  before(async function () {
    this.timeout(120_000);
    consul = await startConsulFake();
    logstash = await FakeLogstash.start();
    await mail.start();
    stack = await LoopbackStack.start({
      instances: 1,
      nginx: false,
      env: {
        LOG_LEVEL: 'info',
        GANTRY_MAILER__SMTP_URL: mail.smtpUrl(),
        GANTRY_KAFKA_EVENTS__BROKERS: JSON.stringify([KAFKA]),
        GANTRY_KAFKA_EVENTS__TOPIC_PREFIX: prefix,
        GANTRY_CONSUL_CONFIG__URL: consul.url,
        GANTRY_CONSUL_CONFIG__REGISTER__ADDRESS: '127.0.0.1',
        GANTRY_CONSUL_CONFIG__REGISTER__CHECK_INTERVAL: '1s',
        GANTRY_ELK_LOGGER__LOGSTASH__HOST: '127.0.0.1',
        GANTRY_ELK_LOGGER__LOGSTASH__PORT: String(logstash.port),
      },
    });
    app = stack.instances[0]!;
  });

  after(async () => {
    await stack?.stop();
    await logstash?.stop();
    await consul?.close();
    await mail.dispose();
  });

  it('reports every dependency up on /readyz: database, Redis, Kafka, SMTP, Consul, Logstash', async () => {
    let last: Readiness | undefined;
    await until(
      'every readiness check up',
      async () => {
        last = (await (await fetch(`${app.base}/readyz`)).json()) as Readiness;
        return Object.values(last.checks).every((c) => c.status === 'up');
      },
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(last)}`);
    });
    expect(last!.status).to.equal('ready');
    for (const plugin of ['database', 'redis', 'kafka-events', 'mailer', 'consul-config', 'elk-logger'])
      expect(last!.checks[plugin]?.status, plugin).to.equal('up');
  });

  it('is registered in Consul with its /readyz check passing', async () => {
    await until(
      'a passing check in Consul',
      () => {
        const mine = Object.values(consul.services()).filter((s) => s.port === app.port);
        return mine.length === 1 && Object.values(mine[0]!.checks).every((status) => status === 'passing');
      },
      30_000,
    );
    const [service] = Object.values(consul.services()).filter((s) => s.port === app.port);
    expect(service).to.include({ name: 'sandbox', address: '127.0.0.1' });
  });

  it("publishes the domain events of a sign-up, its verification and a note to Kafka, read back with Kafka's console consumer", async () => {
    const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${app.base}/api/v1${url}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const email = `compose-${randomBytes(4).toString('hex')}@example.com`;
    const password = `Compose-${randomBytes(6).toString('hex')}-9`;
    const signup = await post('/auth/signup', { email, password, name: 'Compose Check' });
    expect(signup.status, await signup.clone().text()).to.equal(201);
    // The verification mail, through the real SMTP path.
    let token: string | undefined;
    await until('the verification mail', async () => {
      const sent = (await mail.all()).find((m) => m.envelope.to.some((a) => a.address === email));
      token = /token=([A-Za-z0-9_-]+)/.exec(sent?.text ?? '')?.[1];
      return token !== undefined;
    });
    expect((await post('/auth/verify-email', { token })).status).to.equal(204);
    const login = await post('/auth/login', { email, password });
    expect(login.status).to.equal(200);
    const { accessToken } = (await login.json()) as { accessToken: string };
    const note = await fetch(`${app.base}/api/v1/notes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ title: 'through the outbox', body: 'to Kafka' }),
    });
    expect(note.status).to.equal(201);
    const { id: noteId } = (await note.json()) as { id: string };

    const [signedUp] = await consoleConsume({
      service: 'kafka',
      bootstrap: KAFKA,
      topic: `${prefix}users.signed-up`,
      maxMessages: 1,
      timeoutMs: 30_000,
    });
    expect(signedUp, 'users.signed-up on Kafka').to.not.equal(undefined);
    expect(signedUp!.headers).to.include({ ce_type: 'users.signed-up', ce_specversion: '1.0' });
    expect(signedUp!.headers.ce_id).to.match(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(signedUp!.value)).to.include({ email });

    const created = await consoleConsume({
      service: 'kafka',
      bootstrap: KAFKA,
      topic: `${prefix}notes.created`,
      maxMessages: 1,
      timeoutMs: 30_000,
    });
    expect(created).to.have.length(1);
    expect(created[0]!.headers).to.include({ ce_type: 'notes.created', ce_specversion: '1.0' });
    // Keyed by its author: a user's notes keep their order on one partition.
    const owner = JSON.parse(created[0]!.value) as { noteId: string; ownerId: string };
    expect(owner.noteId).to.equal(noteId);
    expect(created[0]!.key).to.equal(owner.ownerId);
    const verified = await consoleConsume({
      service: 'kafka',
      bootstrap: KAFKA,
      topic: `${prefix}users.email-verified`,
      maxMessages: 1,
      timeoutMs: 30_000,
    });
    expect(verified).to.have.length(1);
    expect(JSON.parse(verified[0]!.value)).to.deep.equal({ userId: owner.ownerId });
    expect(created[0]!.headers.traceparent).to.match(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  });

  it("ships a request's log line to Logstash (fake) with its request id", async () => {
    const requestId = `compose-${randomBytes(6).toString('hex')}`;
    const res = await fetch(`${app.base}/api/v1/notes`, { headers: { 'x-request-id': requestId } });
    expect(res.status).to.equal(401);
    await until(
      'the request line in Logstash',
      () => logstash.lines.some((l) => l['http.request.id'] === requestId && l.message === 'request completed'),
      15_000,
    );
    const line = logstash.lines.find((l) => l['http.request.id'] === requestId)!;
    expect(line['service.name']).to.equal('gantry-sandbox');
    expect(line['service.environment']).to.equal('compose');
  });

  it('SIGTERM: exits 0 and leaves Consul', async () => {
    expect(Object.values(consul.services()).some((s) => s.port === app.port)).to.equal(true);
    expect(await stack.stopInstance(app)).to.equal(0);
    expect(Object.values(consul.services()).some((s) => s.port === app.port)).to.equal(false);
  });
});
