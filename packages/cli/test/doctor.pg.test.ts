// Needs the real PostgreSQL on 127.0.0.1:5432 (database `test`, trust auth): run with .mocharc.services.json.
import { expect } from 'chai';
import type { DoctorCheck } from '../src/index.js';
import { gantry, repoTemp } from './support.js';

describe('gantry doctor against the real PostgreSQL', () => {
  let tmp: ReturnType<typeof repoTemp>;
  beforeEach(() => {
    tmp = repoTemp('doctor-pg');
  });
  afterEach(() => tmp.remove());

  const database = async (
    env: NodeJS.ProcessEnv,
    options: Record<string, unknown> = { host: '127.0.0.1', port: 5432, user: 'postgres', dbName: 'test' },
  ): Promise<{ code: number; check: DoctorCheck }> => {
    tmp.write('gantry.config.json', JSON.stringify({ plugins: { database: { driver: 'postgresql', ...options } } }));
    const res = await gantry(['doctor', '--json', '--cwd', tmp.dir], { env });
    return {
      code: res.code,
      check: (JSON.parse(res.stdout).checks as DoctorCheck[]).find((c) => c.name === 'database')!,
    };
  };

  it('connects and runs select 1: OK, exit 0', async () => {
    const { code, check } = await database({});
    expect(code, JSON.stringify(check)).to.equal(0);
    expect(check).to.deep.equal({
      name: 'database',
      status: 'ok',
      detail: ['PostgreSQL 127.0.0.1:5432/test: connected, select 1 answered'],
    });
  });

  it('through clientUrl too, whose path names the database', async () => {
    const { code, check } = await database(
      { GANTRY_DATABASE__CLIENT_URL: 'postgresql://postgres@127.0.0.1:5432/test' },
      {},
    );
    expect(code, JSON.stringify(check)).to.equal(0);
    expect(check.detail).to.deep.equal(['PostgreSQL 127.0.0.1:5432/test: connected, select 1 answered']);
  });

  it('reports a database that does not exist, with the fix', async () => {
    const { code, check } = await database({ GANTRY_DATABASE__DB_NAME: 'gantry_doctor_no_such_db' });
    expect(code).to.equal(1);
    expect(check.status).to.equal('fail');
    expect(check.detail[0]).to.include('database "gantry_doctor_no_such_db" does not exist');
    expect(check.fix).to.include('with a database "gantry_doctor_no_such_db" and a role "postgres"');
  });
});
