import { expect } from 'chai';
import { bootApp, type BootedApp } from './boot.js';

describe('the app', () => {
  let app: BootedApp;
  before(async () => {
    app = await bootApp();
  });
  after(() => app?.stop());

  it('is alive and ready', async () => {
    const live = await app.call('GET', '/healthz');
    expect(live.status, live.text).to.equal(200);
    expect(live.body).to.deep.equal({ status: 'ok' });
    const ready = await app.call('GET', '/readyz');
    expect(ready.status, ready.text).to.equal(200);
  });

  it('answers its own route, and a problem+json 400 for a bad query', async () => {
    const hello = await app.call('GET', '/api/v1/hello?name=Ada');
    expect(hello.status, hello.text).to.equal(200);
    expect(hello.body).to.deep.equal({ message: 'Hello, Ada!' });
    const bad = await app.call('GET', '/api/v1/hello?name=');
    expect(bad.status).to.equal(400);
    expect(bad.body.code).to.be.a('string');
  });
});
