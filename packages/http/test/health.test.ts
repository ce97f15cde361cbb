import { definePlugin, type HealthResult, type Plugin } from '@gantry/core';
import { expect } from 'chai';
import { createTestKernel } from './kit.js';

function withCheck(result: () => HealthResult, critical = true): { plugin: Plugin; set(r: HealthResult): void } {
  let current = result();
  const plugin = definePlugin({
    name: 'dep',
    version: '0.1.0',
    kernel: '^0.1.0',
    register: (ctx) => ctx.health.check(() => current, { critical }),
  });
  return { plugin, set: (r) => (current = r) };
}

describe('http: /healthz and /readyz', () => {
  it('/healthz answers 200 while the process runs', async () => {
    await using tk = await createTestKernel({ plugins: [] });
    const res = await tk.inject('/healthz');
    expect(res.statusCode).to.equal(200);
    expect(res.json()).to.deep.equal({ status: 'ok' });
  });

  it('/readyz answers 200 with every check, then 503 when a critical check goes down', async () => {
    const dep = withCheck(() => ({ status: 'up' }));
    await using tk = await createTestKernel({ plugins: [dep.plugin] });
    const ok = await tk.inject('/readyz');
    expect(ok.statusCode).to.equal(200);
    const body = ok.json<{ status: string; checks: Record<string, { status: string }> }>();
    expect(body.status).to.equal('ready');
    expect(Object.keys(body.checks)).to.have.members(['http', 'dep']);
    expect(body.checks.http!).to.deep.include({ status: 'up', critical: false });

    dep.set({ status: 'down', details: { reason: 'connection refused' } });
    const down = await tk.inject('/readyz');
    expect(down.statusCode).to.equal(503);
    expect(down.json()).to.deep.include({ status: 'not_ready', shuttingDown: false });
    expect(down.json<{ checks: Record<string, unknown> }>().checks.dep).to.deep.include({
      status: 'down',
      details: { reason: 'connection refused' },
    });

    dep.set({ status: 'degraded' });
    expect((await tk.inject('/readyz')).statusCode).to.equal(200);
  });

  it('a non-critical check down keeps /readyz at 200', async () => {
    const dep = withCheck(() => ({ status: 'down' }), false);
    await using tk = await createTestKernel({ plugins: [dep.plugin] });
    expect((await tk.inject('/readyz')).statusCode).to.equal(200);
  });

  it('/readyz answers 503 once shutdown began, /healthz still 200', async () => {
    await using tk = await createTestKernel({ plugins: [] });
    tk.kernel.health.setState({ shuttingDown: true });
    const res = await tk.inject('/readyz');
    expect(res.statusCode).to.equal(503);
    expect(res.json()).to.include({ status: 'not_ready', shuttingDown: true });
    expect((await tk.inject('/healthz')).statusCode).to.equal(200);
  });
});
