// Needs the real Redis on 127.0.0.1:6379: run with .mocharc.services.json.
import { expect } from 'chai';
import type { DoctorCheck } from '../src/index.js';
import { gantry, repoTemp } from './support.js';

describe('gantry doctor against the real Redis', () => {
  it('answers PING with PONG: OK, exit 0', async () => {
    const tmp = repoTemp('doctor-redis');
    try {
      tmp.write('gantry.config.json', JSON.stringify({ plugins: { redis: { url: 'redis://127.0.0.1:6379' } } }));
      const res = await gantry(['doctor', '--json', '--cwd', tmp.dir]);
      expect(res.code, res.stdout).to.equal(0);
      const redis = (JSON.parse(res.stdout).checks as DoctorCheck[]).find((c) => c.name === 'redis');
      expect(redis).to.deep.equal({ name: 'redis', status: 'ok', detail: ['PING 127.0.0.1:6379: PONG'] });
    } finally {
      tmp.remove();
    }
  });
});
