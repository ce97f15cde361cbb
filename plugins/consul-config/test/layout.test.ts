import { expect } from 'chai';
import { appName, backoffDelay, kvFolder, layerFromEntries } from '../src/index.js';

describe('consul-config KV layout', () => {
  const folder = 'gantry/shop/compose/';
  const e = (key: string, value: string | null) => ({ Key: `${folder}${key}`, Value: value });

  it('maps <plugin>/<option path> to nested options, values as JSON else strings', () => {
    const { layer, problems } = layerFromEntries(folder, [
      e('rate-limit/default/limit', '50'),
      e('rate-limit/default/failOpen', 'true'),
      e('mailer/from', 'noreply@example.com'),
      e('mailer/subjectPrefix', '"42"'),
      e('http/cors/origins', '["https://a.example"]'),
    ]);
    expect(problems).to.deep.equal([]);
    expect(layer).to.deep.equal({
      'rate-limit': { default: { limit: 50, failOpen: true } },
      mailer: { from: 'noreply@example.com', subjectPrefix: '42' },
      http: { cors: { origins: ['https://a.example'] } },
    });
  });

  it('a key naming a plugin holds its options as one JSON object; deeper keys go over it', () => {
    const { layer } = layerFromEntries(folder, [
      e('rate-limit/default/limit', '7'),
      e('rate-limit', '{"default":{"limit":1,"windowMs":60000}}'),
    ]);
    expect(layer).to.deep.equal({ 'rate-limit': { default: { limit: 7, windowMs: 60000 } } });
  });

  it('skips folders, empty values, other prefixes and reserved segments, reporting the odd ones', () => {
    const { layer, problems } = layerFromEntries(folder, [
      e('rate-limit/', null),
      e('rate-limit/default/limit', ''),
      { Key: 'gantry/shop/embedded/rate-limit/default/limit', Value: '3' },
      e('rate-limit/__proto__/polluted', 'true'),
      e('mailer', '"not an object"'),
    ]);
    expect(layer).to.deep.equal({});
    expect(problems).to.have.length(2);
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  });

  it('folder per app and profile; the app name defaults to the folder name', () => {
    expect(kvFolder({ prefix: 'gantry', app: 'shop' }, '/srv/x', 'compose')).to.equal('gantry/shop/compose/');
    expect(kvFolder({ prefix: 'cfg/', app: undefined }, '/srv/my app', 'embedded')).to.equal('cfg/my-app/embedded/');
    expect(appName({ app: undefined }, '/')).to.equal('app');
  });

  it('backoff doubles per attempt up to the cap, with jitter in the upper half', () => {
    expect(backoffDelay(0, 100, 1000, () => 0)).to.equal(50);
    expect(backoffDelay(0, 100, 1000, () => 1)).to.equal(100);
    expect(backoffDelay(3, 100, 1000, () => 1)).to.equal(800);
    expect(backoffDelay(10, 100, 1000, () => 1)).to.equal(1000);
    expect(backoffDelay(10, 100, 1000, () => 0)).to.equal(500);
  });
});
