import { expect } from 'chai';
import { HealthRegistry, HealthRegistryToken, type HealthCheck } from '../src/index.js';
import { kernelOf, plugin } from './helpers.js';

function check(name: string, status: 'up' | 'down' | 'degraded', extra: Partial<HealthCheck> = {}): HealthCheck {
  return {
    name,
    plugin: name.split(':')[0]!,
    critical: true,
    timeoutMs: 1_000,
    check: () => ({ status, details: { from: name } }),
    ...extra,
  };
}

describe('health', () => {
  it('is not ready before start, ready after when every check is up', async () => {
    const h = new HealthRegistry();
    h.add(check('db', 'up'));
    h.add(check('cache', 'degraded'));
    expect((await h.readiness()).status).to.equal('not_ready');
    h.setState({ started: true });
    const report = await h.readiness();
    expect(report.status).to.equal('ready');
    expect(report.shuttingDown).to.equal(false);
    expect(report.checks.db).to.include({ status: 'up', plugin: 'db', critical: true });
    expect(report.checks.db!.details).to.deep.equal({ from: 'db' });
    expect(report.checks.cache!.status).to.equal('degraded');
  });

  it('a critical check down makes it not ready; a non-critical one does not', async () => {
    const h = new HealthRegistry();
    h.setState({ started: true });
    h.add(check('mailer', 'down', { critical: false }));
    expect((await h.readiness()).status).to.equal('ready');
    h.add(check('db', 'down'));
    const report = await h.readiness();
    expect(report.status).to.equal('not_ready');
    expect(report.checks.mailer!.status).to.equal('down');
    expect(report.checks.db!.status).to.equal('down');
  });

  it('reports a throwing check and a check past its timeout as down with the reason', async () => {
    const h = new HealthRegistry();
    h.setState({ started: true });
    h.add(check('slow', 'up', { timeoutMs: 20, check: () => new Promise(() => undefined) }));
    h.add(
      check('thrower', 'up', {
        critical: false,
        check: () => {
          throw new Error('connection refused');
        },
      }),
    );
    const report = await h.readiness();
    expect(report.status).to.equal('not_ready');
    expect(report.checks.slow).to.include({ status: 'down', error: 'timed out after 20 ms' });
    expect(report.checks.thrower).to.include({ status: 'down', error: 'connection refused' });
  });

  it('turns not ready at once when shutting down', async () => {
    const h = new HealthRegistry();
    h.add(check('db', 'up'));
    h.setState({ started: true });
    h.setState({ shuttingDown: true });
    const report = await h.readiness();
    expect(report).to.include({ status: 'not_ready', shuttingDown: true });
  });

  it('refuses two checks with one name', () => {
    const h = new HealthRegistry();
    h.add(check('db', 'up'));
    expect(() => h.add(check('db', 'up'))).to.throw(TypeError, 'health check "db" is registered twice');
  });

  it('plugins register named checks through ctx.health; the kernel reports readiness across its life', async () => {
    const kernel = await kernelOf([
      plugin('db', {
        register: (ctx) => {
          ctx.health.check(() => ({ status: 'up' }));
          ctx.health.check(() => ({ status: 'down', details: { replica: 'lagging' } }), {
            name: 'replica',
            critical: false,
            timeoutMs: 500,
          });
        },
      }),
    ]);
    const registry = kernel.get(HealthRegistryToken);
    expect(registry).to.equal(kernel.health);
    expect((await registry.readiness()).status).to.equal('not_ready');
    await kernel.start();
    const report = await registry.readiness();
    expect(report.status).to.equal('ready');
    expect(Object.keys(report.checks)).to.deep.equal(['db', 'db:replica']);
    expect(report.checks['db:replica']).to.include({ status: 'down', critical: false, plugin: 'db' });
    expect(registry.byPlugin('db').map((c) => c.timeoutMs)).to.deep.equal([2_000, 500]);
    await kernel.stop();
    expect((await registry.readiness()).status).to.equal('not_ready');
  });
});
