import net from 'node:net';
import { MailCatcher } from '@gantry/testing/maildev';
import { expect } from 'chai';
import { checkNode, type DoctorCheck } from '../src/index.js';
import { closedPort, gantry, repoTemp } from './support.js';

/** A local plugin whose options name Kafka brokers, as a kafka-events plugin would. */
const BROKERS_PLUGIN = `
import { definePlugin } from '@gantry/core';
import { z } from 'zod';
export const plugin = definePlugin({
  name: 'kafka-events', version: '1.0.0', kernel: '^0.1.0',
  config: z.object({ brokers: z.array(z.string()).describe('host:port list') }).strict(),
  register: () => undefined,
});
`;

async function doctorJson(
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; checks: DoctorCheck[]; byName: (n: string) => DoctorCheck | undefined }> {
  const res = await gantry(['doctor', '--json', '--cwd', cwd], { env });
  const out = JSON.parse(res.stdout) as { ok: boolean; checks: DoctorCheck[] };
  expect(out.ok).to.equal(res.code === 0);
  return { code: res.code, checks: out.checks, byName: (n) => out.checks.find((c) => c.name === n) };
}

describe('gantry doctor', function () {
  this.timeout(30_000);
  let tmp: ReturnType<typeof repoTemp>;
  beforeEach(() => {
    tmp = repoTemp('doctor');
  });
  afterEach(() => tmp.remove());

  it('reports a good embedded setup as OK and exits 0', async () => {
    tmp.write(
      'gantry.config.json',
      JSON.stringify({
        plugins: {
          http: {},
          database: { dbName: 'var/app.sqlite' },
          mailer: { from: 'noreply@example.com', baseUrl: 'http://localhost:3000' },
        },
      }),
    );
    const res = await gantry(['doctor', '--cwd', tmp.dir]);
    expect(res.code, res.stdout).to.equal(0);
    expect(res.stdout).to.match(/^ {2}ok +node +v\d+/m);
    expect(res.stdout).to.match(/^ {2}ok +config +gantry\.config\.json: 3 plugins, profile embedded, no problem$/m);
    expect(res.stdout).to.match(/^ {2}ok +database +SQLite: .*var\/app\.sqlite will be created/m);
    expect(res.stdout).to.match(/^ {2}ok +mailer +mail written as \.eml files: .*var\/mail will be created/m);
    expect(res.stdout.trim().split('\n').at(-1)).to.equal('Everything checked is OK.');
  });

  it('reports an unreachable PostgreSQL and Redis (closed ports) with the fix for each, and exits 1', async () => {
    const [pgPort, redisPort] = [await closedPort(), await closedPort()];
    tmp.write(
      'gantry.config.json',
      JSON.stringify({
        plugins: {
          http: {},
          database: { driver: 'postgresql', host: '127.0.0.1', port: pgPort, dbName: 'app', connectTimeoutMs: 2000 },
          redis: { url: `redis://127.0.0.1:${redisPort}` },
        },
      }),
    );
    const { code, byName } = await doctorJson(tmp.dir);
    expect(code).to.equal(1);
    expect(byName('config')!.status).to.equal('ok');
    const db = byName('database')!;
    expect(db.status).to.equal('fail');
    expect(db.detail[0]).to.include(`ECONNREFUSED 127.0.0.1:${pgPort}`);
    expect(db.fix)
      .to.include(`start PostgreSQL at 127.0.0.1:${pgPort} with a database "app"`)
      .and.include('GANTRY_DATABASE__PASSWORD');
    const redis = byName('redis')!;
    expect(redis.status).to.equal('fail');
    expect(redis.detail[0]).to.include(`ECONNREFUSED 127.0.0.1:${redisPort}`);
    expect(redis.fix).to.equal(`start Redis at 127.0.0.1:${redisPort}, or point GANTRY_REDIS__URL at a running one`);

    const text = await gantry(['doctor', '--cwd', tmp.dir]);
    expect(text.code).to.equal(1);
    expect(text.stdout).to.match(/^ {2}FAIL +redis +connect ECONNREFUSED/m);
    expect(text.stdout).to.match(/^ {10,}fix: start Redis at/m);
    expect(text.stdout.trim().split('\n').at(-1)).to.equal('2 checks failed: database, redis');
  });

  it('probes SMTP for real: a running server is OK, a closed port fails with the fix', async () => {
    const mail = new MailCatcher();
    await mail.start();
    try {
      tmp.write(
        'gantry.config.json',
        JSON.stringify({
          plugins: { mailer: { from: 'noreply@example.com', baseUrl: 'http://localhost:3000', transport: 'smtp' } },
        }),
      );
      const ok = await doctorJson(tmp.dir, { GANTRY_MAILER__SMTP_URL: mail.smtpUrl() });
      expect(ok.code, JSON.stringify(ok.checks)).to.equal(0);
      expect(ok.byName('mailer')!.detail[0]).to.match(/^SMTP 127\.0\.0\.1:\d+: greeting, EHLO OK$/);
      const port = await closedPort();
      const down = await doctorJson(tmp.dir, { GANTRY_MAILER__SMTP_URL: `smtp://user:s3cret@127.0.0.1:${port}` });
      expect(down.code).to.equal(1);
      expect(down.byName('mailer')!.detail[0]).to.include('ECONNREFUSED');
      expect(down.byName('mailer')!.fix)
        .to.include(`start the SMTP server at 127.0.0.1:${port}`)
        .and.include('GANTRY_MAILER__SMTP_URL');
      expect(JSON.stringify(down.checks)).not.to.include('s3cret');
    } finally {
      await mail.stop();
    }
  });

  it('connects to each Kafka broker a plugin names (TCP)', async () => {
    const server = net.createServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const up = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
      const down = `127.0.0.1:${await closedPort()}`;
      tmp.write('plugins/kafka.mjs', BROKERS_PLUGIN);
      tmp.write('gantry.config.json', JSON.stringify({ plugins: { './plugins/kafka.mjs': { brokers: [up] } } }));
      const ok = await doctorJson(tmp.dir);
      expect(ok.code).to.equal(0);
      expect(ok.byName('kafka-events')!.detail).to.deep.equal([`Kafka brokers reachable (TCP): ${up}`]);
      const bad = await doctorJson(tmp.dir, { GANTRY_KAFKA_EVENTS__BROKERS: JSON.stringify([up, down]) });
      expect(bad.code).to.equal(1);
      expect(bad.byName('kafka-events')!.detail[0]).to.equal('1 of 2 Kafka brokers unreachable');
      expect(bad.byName('kafka-events')!.detail[1]).to.include(`${down}: connect ECONNREFUSED`);
      expect(bad.byName('kafka-events')!.fix).to.include('GANTRY_KAFKA_EVENTS__BROKERS');
    } finally {
      server.close();
    }
  });

  it('reports a SQLite file that cannot be created (a file stands where its folder should be), with the fix', async () => {
    // Not a read-only folder: this test may run as root, who writes anywhere.
    tmp.write('blocked', 'a file, not a folder');
    tmp.write('gantry.config.json', JSON.stringify({ plugins: { database: { dbName: 'blocked/sub/app.sqlite' } } }));
    const { code, byName } = await doctorJson(tmp.dir);
    expect(code).to.equal(1);
    expect(byName('database')!.status).to.equal('fail');
    expect(byName('database')!.detail[0]).to.equal(
      `${tmp.dir}/blocked is a file: ${tmp.dir}/blocked/sub/app.sqlite cannot be created under it`,
    );
    expect(byName('database')!.fix).to.include('GANTRY_DATABASE__DB_NAME');
  });

  it('lists every config problem at once, skips probing a plugin whose options are invalid, and exits 1', async () => {
    tmp.write(
      'gantry.config.json',
      JSON.stringify({ plugins: { http: { port: 'x' }, metricz: {}, redis: { url: 'http://nope' } } }),
    );
    const { code, byName } = await doctorJson(tmp.dir);
    expect(code).to.equal(1);
    const config = byName('config')!;
    expect(config.status).to.equal('fail');
    expect(config.detail[0]).to.equal('gantry.config.json (profile embedded): 3 problems');
    expect(config.detail.slice(1).join('\n'))
      .to.include('metricz')
      .and.include('option "port"')
      .and.include('option "url"');
    expect(byName('redis')).to.deep.equal({
      name: 'redis',
      status: 'skip',
      detail: ['not probed: its options are invalid (see config)'],
    });
  });

  it('says what to do when there is no config file', async () => {
    const { code, byName } = await doctorJson(tmp.dir);
    expect(code).to.equal(1);
    expect(byName('config')!.detail[0]).to.include('no config file in');
    expect(byName('config')!.fix).to.include('create gantry.config.json');
  });

  it('checks the Node.js version against the supported range', () => {
    expect(checkNode('24.11.0').status).to.equal('ok');
    expect(checkNode('22.12.0').status).to.equal('ok');
    const old = checkNode('20.20.2');
    expect(old.status).to.equal('fail');
    expect(old.detail[0]).to.equal('v20.20.2 is not supported (needs >=22.12.0)');
    expect(old.fix).to.include('Node.js 24');
    expect(checkNode('22.11.0').status).to.equal('fail');
  });
});
