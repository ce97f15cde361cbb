import { silentLogger, type Logger } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { checkConformance, createTestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { {{Name}}Errors, {{Name}}Token, plugin } from '../src/index.js';

describe('{{name}} plugin', () => {
  // silentLogger() opens a pino stream, and pino registers a process 'exit' listener while any such
  // stream is alive. Holding one across the checks keeps that listener steady, so `no-global-state`
  // measures this plugin and not whether an earlier logger was garbage-collected.
  let keepAlive: Logger | undefined;
  before(() => {
    keepAlive = silentLogger();
  });
  after(() => {
    keepAlive = undefined;
  });

  it('passes every check of the conformance kit', async () => {
    expect(keepAlive).not.to.equal(undefined);
    const results = await checkConformance({ plugin, with: [httpPlugin] });
    const failed = results.filter((r) => !r.ok).map((r) => `${r.check}: ${r.message}`);
    expect(failed).to.deep.equal([]);
    expect(results.map((r) => r.check)).to.include.members(['metadata', 'config-documented', 'boots', 'health-check', 'ready', 'isolated', 'stops', 'no-leaked-handles', 'no-global-state']);
  });

  it('greets over HTTP, and answers problem+json 400 for a name it cannot greet', async () => {
    await using tk = await createTestKernel({ plugins: [httpPlugin, plugin], config: { {{quotedName}}: { greeting: 'Hi' } } });
    const ok = await tk.inject('/api/v1/{{name}}/greet?name=Ada');
    expect(ok.statusCode, ok.body).to.equal(200);
    expect(ok.json()).to.deep.equal({ message: 'Hi, Ada!' });
    const bad = await tk.inject('/api/v1/{{name}}/greet?name=');
    expect(bad.statusCode).to.equal(400);
    expect(bad.headers['content-type']).to.match(/^application\/problem\+json/);
    expect(bad.json().code).to.equal({{Name}}Errors.NAME_INVALID.code);
  });

  it('provides its service to other plugins, without http too', async () => {
    await using tk = await createTestKernel({ plugins: [plugin] });
    const greeter = tk.get({{Name}}Token);
    expect(greeter.greet('Grace')).to.equal('Hello, Grace!');
    expect(greeter.count).to.equal(1);
  });
});
