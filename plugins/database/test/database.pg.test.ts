// The shared suite on the real PostgreSQL (127.0.0.1:5432, database "test"), each database a schema
// of its own with a random name, dropped at the end; plus what only a server database does: schemas,
// clientUrl, an unreachable server at boot, and an outage at run time that heals without a restart.
import { randomBytes } from 'node:crypto';
import { plugin as httpPlugin } from '@gantry/http';
import { createTestKernel } from '@gantry/testing';
import { MikroORM, defineConfig } from '@mikro-orm/postgresql';
import { expect } from 'chai';
import { DatabaseToken, plugin as databasePlugin } from '../src/index.js';
import { notesPlugin } from './support/notes-plugin.js';
import { bootFailure, databaseSuite, Kernels } from './support/suite.js';
import { TcpProxy } from '@gantry/testing';

const PG = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: 'postgres',
  dbName: 'test',
};
const schemas: string[] = [];

/** A new schema name for one test's database; every one is dropped after the run. */
function newSchema(): string {
  const schema = `gantry_db_test_${randomBytes(5).toString('hex')}`;
  schemas.push(schema);
  return schema;
}

let admin: MikroORM | undefined;
async function sql(statement: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  admin ??= await MikroORM.init(defineConfig({ ...PG, entities: [], discovery: { warnWhenNoEntities: false } }));
  return admin.em.getConnection().execute(statement, params);
}

after(async () => {
  try {
    for (const schema of schemas.splice(0)) await sql(`drop schema if exists "${schema}" cascade`);
  } finally {
    await admin?.close();
  }
});

databaseSuite({
  driver: 'postgresql',
  fresh: async () => ({ driver: 'postgresql', ...PG, schema: newSchema() }),
});

describe('database plugin on postgresql: server specifics', () => {
  const kernels = new Kernels();
  afterEach(() => kernels.stopAll());

  it('keeps the tables and the migrations table in the configured schema', async () => {
    const schema = newSchema();
    await kernels.boot({ driver: 'postgresql', ...PG, schema });
    const tables = await sql(
      'select table_name from information_schema.tables where table_schema = ? order by table_name',
      [schema],
    );
    expect(tables.map((t) => t.table_name)).to.deep.equal(['mikro_orm_migrations', 'note']);
    const inPublic = await sql(
      "select count(*)::int as n from information_schema.tables where table_schema = 'public' and table_name = 'note'",
    );
    expect(inPublic[0]!.n).to.equal(0);
  });

  it("has PostgreSQL stop a transaction's statement at the request deadline (504), not let it run on", async () => {
    const tk = await kernels.boot({ driver: 'postgresql', ...PG, schema: newSchema() }, [notesPlugin()], {
      requestTimeoutMs: 800,
    });
    const running = async (): Promise<number> =>
      (
        await sql(
          "select count(*)::int as n from pg_stat_activity where state = 'active' and query like '%gantry-slow-statement%' and query not like '%pg_stat_activity%'",
        )
      )[0]!.n as number;
    const pending = tk.inject({ method: 'POST', url: '/api/v1/late/slow-statement' });
    // The statement (pg_sleep(5)) shows up on the server, then is gone well before its 5 s: cut at
    // the 800 ms deadline by the server itself.
    let seen = false;
    let gone = false;
    for (let i = 0; i < 120 && !gone; i++) {
      const n = await running();
      if (n > 0) seen = true;
      else if (seen) gone = true;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(seen, 'the slow statement never ran').to.equal(true);
    expect(gone, 'the slow statement still runs on the server 3 s later').to.equal(true);
    const res = await pending;
    expect(res.statusCode).to.equal(504);
    expect(res.json()).to.include({ code: 'GANTRY_DATABASE_DEADLINE_EXCEEDED' });
  });

  it('connects with clientUrl instead of host/port/user', async () => {
    const tk = await kernels.boot({
      driver: 'postgresql',
      clientUrl: `postgresql://${PG.user}@${PG.host}:${PG.port}/${PG.dbName}`,
      schema: newSchema(),
    });
    const res = await tk.inject({ method: 'POST', url: '/api/v1/notes', payload: { title: 'via url' } });
    expect(res.statusCode).to.equal(201);
    expect((await tk.get(DatabaseToken).ping()).ok).to.equal(true);
  });

  it('fails the start with GANTRY_DATABASE_CONNECT_FAILED naming host:port when PostgreSQL is unreachable', async () => {
    const err = await bootFailure(
      kernels.boot({ driver: 'postgresql', ...PG, port: 5999, schema: newSchema(), connectTimeoutMs: 2_000 }),
    );
    expect(err.code).to.equal('GANTRY_DATABASE_CONNECT_FAILED');
    expect(err.message).to.include('127.0.0.1:5999');
    expect(err.fix).to.include('start PostgreSQL at 127.0.0.1:5999');
  });

  it('fails the start with CONNECT_FAILED for a database that does not exist, and does not create it', async () => {
    const dbName = `gantry_missing_${randomBytes(5).toString('hex')}`;
    const err = await bootFailure(kernels.boot({ driver: 'postgresql', ...PG, dbName, schema: newSchema() }));
    expect(err.code).to.equal('GANTRY_DATABASE_CONNECT_FAILED');
    expect(err.message).to.include(`database "${dbName}" does not exist`);
    const found = await sql('select count(*)::int as n from pg_database where datname = ?', [dbName]);
    expect(found[0]!.n).to.equal(0);
  });

  it('answers 503 GANTRY_DATABASE_UNAVAILABLE during an outage, reports not ready, and recovers without a restart', async () => {
    const proxy = new TcpProxy({ host: PG.host, port: PG.port });
    await proxy.start();
    try {
      const tk = await createTestKernel({
        plugins: [httpPlugin, databasePlugin, notesPlugin()],
        config: {
          database: {
            driver: 'postgresql',
            ...PG,
            host: '127.0.0.1',
            port: proxy.port,
            schema: newSchema(),
            connectTimeoutMs: 2_000,
          },
        },
      });
      try {
        expect(
          (await tk.inject({ method: 'POST', url: '/api/v1/notes', payload: { title: 'before' } })).statusCode,
        ).to.equal(201);

        await proxy.stop();
        for (const request of [
          { method: 'GET' as const, url: '/api/v1/notes' },
          { method: 'POST' as const, url: '/api/v1/notes', payload: { title: 'during' } },
          { method: 'POST' as const, url: '/api/v1/notes/batch', payload: { titles: ['during'] } },
        ]) {
          const res = await tk.inject(request);
          expect(res.statusCode, `${request.method} ${request.url}`).to.equal(503);
          expect(res.headers['content-type']).to.include('application/problem+json');
          expect(res.headers['retry-after']).to.equal('5');
          expect(res.json()).to.include({ code: 'GANTRY_DATABASE_UNAVAILABLE', status: 503 });
          // Nothing about the internal host reaches the client.
          expect(res.body).to.not.include(String(proxy.port));
        }
        const down = await tk.inject({ method: 'GET', url: '/readyz' });
        expect(down.statusCode).to.equal(503);
        expect((down.json() as { checks: Record<string, unknown> }).checks.database).to.deep.include({
          status: 'down',
          details: { driver: 'postgresql', error: 'ECONNREFUSED' },
        });

        await proxy.start();
        const list = await tk.inject({ method: 'GET', url: '/api/v1/notes' });
        expect(list.statusCode).to.equal(200);
        expect((list.json() as { title: string }[]).map((n) => n.title)).to.deep.equal(['before']);
        expect(
          (await tk.inject({ method: 'POST', url: '/api/v1/notes', payload: { title: 'after' } })).statusCode,
        ).to.equal(201);
        expect((await tk.inject({ method: 'GET', url: '/readyz' })).statusCode).to.equal(200);
      } finally {
        await tk.stop();
      }
    } finally {
      await proxy.stop();
    }
  });
});
