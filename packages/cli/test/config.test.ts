import { expect } from 'chai';
import { isSecretKey, maskValue, SECRET_MASK } from '../src/index.js';
import { gantry, repoTemp } from './support.js';

/** A local plugin with secret-looking options, written as plain ESM (no build needed). */
const VAULT_PLUGIN = `
import { definePlugin } from '@gantry/core';
import { z } from 'zod';
export const plugin = definePlugin({
  name: 'vault', version: '1.0.0', kernel: '^0.1.0',
  config: z.object({
    apiKey: z.string().describe('API key'),
    region: z.string().default('eu').describe('region'),
    webhookUrl: z.string().optional().describe('where to post'),
    publicUrl: z.string().optional().describe('shown to users'),
    nested: z.object({ clientSecret: z.string().optional().describe('secret'), timeoutMs: z.number().default(500).describe('timeout') }).default({ timeoutMs: 500 }).describe('nested'),
  }).strict(),
  register: (ctx) => ctx.health.check(() => ({ status: 'up' })),
});
`;

describe('gantry config print', () => {
  let tmp: ReturnType<typeof repoTemp>;
  before(() => {
    tmp = repoTemp('config');
    tmp.write('plugins/vault.mjs', VAULT_PLUGIN);
    tmp.write(
      'gantry.config.json',
      JSON.stringify({
        plugins: {
          http: { port: 4100 },
          mailer: { from: 'noreply@example.com', baseUrl: 'https://app.example.com', transport: 'smtp' },
          './plugins/vault.mjs': {
            apiKey: 'file-api-key-123',
            webhookUrl: 'https://hook:hook-pass-456@hooks.example.com/x',
            publicUrl: 'https://example.com/docs',
          },
        },
        profiles: {
          staging: {
            plugins: {
              http: { cors: { origins: ['https://staging.example.com'] } },
              './plugins/vault.mjs': { nested: { clientSecret: 'profile-secret-789' } },
            },
          },
        },
        kernel: { hookTimeoutMs: 2000 },
      }),
    );
  });
  after(() => tmp.remove());

  const env = {
    GANTRY_HTTP__PORT: '4200',
    GANTRY_MAILER__SMTP_URL: 'smtp://user:hunter2@127.0.0.1:2525',
    GANTRY_VAULT__REGION: 'us',
  };

  it('says where every option came from: default, file, profile, or the env variable', async () => {
    const res = await gantry(['config', 'print', '--json', '--profile', 'staging', '--cwd', tmp.dir], { env });
    expect(res.code, res.stdout + res.stderr).to.equal(0);
    const out = JSON.parse(res.stdout);
    expect(out.profile).to.equal('staging');
    expect(out.configFile).to.equal(`${tmp.dir}/gantry.config.json`);
    expect(out.kernel.hookTimeoutMs).to.deep.equal({ value: 2000, source: 'file' });
    expect(out.kernel.shutdownTimeoutMs).to.deep.equal({ value: 15000, source: 'default' });
    const http = out.plugins.find((p: { name: string }) => p.name === 'http').options;
    expect(http.port).to.deep.equal({ value: 4200, source: 'env', variable: 'GANTRY_HTTP__PORT' });
    expect(http.host).to.deep.equal({ value: '127.0.0.1', source: 'default' });
    expect(http['cors.origins']).to.deep.equal({ value: ['https://staging.example.com'], source: 'profile' });
    expect(http['cors.credentials']).to.deep.equal({ value: false, source: 'default' });
    const vault = out.plugins.find((p: { name: string }) => p.name === 'vault');
    expect(vault.specifier).to.equal('./plugins/vault.mjs');
    expect(vault.options.region).to.deep.equal({ value: 'us', source: 'env', variable: 'GANTRY_VAULT__REGION' });
    expect(vault.options['nested.timeoutMs']).to.deep.equal({ value: 500, source: 'default' });
    expect(vault.options['nested.clientSecret'].source).to.equal('profile');
  });

  it('masks the values of secret-looking options and of URLs with credentials, wherever they come from', async () => {
    const res = await gantry(['config', 'print', '--json', '--profile', 'staging', '--cwd', tmp.dir], { env });
    const out = JSON.parse(res.stdout);
    const vault = out.plugins.find((p: { name: string }) => p.name === 'vault').options;
    const mailer = out.plugins.find((p: { name: string }) => p.name === 'mailer').options;
    expect(vault.apiKey).to.deep.equal({ value: SECRET_MASK, source: 'file' });
    expect(vault['nested.clientSecret'].value).to.equal(SECRET_MASK);
    expect(vault.webhookUrl.value).to.equal(SECRET_MASK);
    expect(vault.publicUrl.value).to.equal('https://example.com/docs');
    expect(mailer.smtpUrl).to.deep.equal({ value: SECRET_MASK, source: 'env', variable: 'GANTRY_MAILER__SMTP_URL' });
    expect(mailer.baseUrl.value).to.equal('https://app.example.com');

    const text = await gantry(['config', 'print', '--profile', 'staging', '--cwd', tmp.dir], { env });
    expect(text.code).to.equal(0);
    for (const secret of ['file-api-key-123', 'hook-pass-456', 'profile-secret-789', 'hunter2']) {
      expect(text.stdout + res.stdout, secret).not.to.include(secret);
    }
    expect(text.stdout).to.match(/^ {2}apiKey +\[secret\] +file$/m);
    expect(text.stdout).to.match(/^ {2}port +4200 +env GANTRY_HTTP__PORT$/m);
    expect(text.stdout).to.match(/^ {2}publicUrl +"https:\/\/example.com\/docs" +file$/m);
    expect(text.stdout).to.include('gantry.config.json (profile staging)');
  });

  it('prints the options it could resolve, then every problem, and exits 1', async () => {
    const res = await gantry(['config', 'print', '--cwd', tmp.dir], { env: { ...env, GANTRY_HTTP__PORT: 'eighty' } });
    expect(res.code).to.equal(1);
    expect(res.stdout)
      .to.include('vault (./plugins/vault.mjs)')
      .and.include('1 problem in gantry.config.json (profile embedded):');
    expect(res.stdout).to.include('GANTRY_HTTP__PORT: expected a number, got "eighty"');
  });
});

describe('gantry config check', () => {
  let tmp: ReturnType<typeof repoTemp>;
  beforeEach(() => {
    tmp = repoTemp('check');
  });
  afterEach(() => tmp.remove());

  it('exits 0 for a setup that can start, naming its plugins', async () => {
    tmp.write('gantry.config.json', JSON.stringify({ plugins: { http: {}, metrics: {} } }));
    const res = await gantry(['config', 'check', '--cwd', tmp.dir]);
    expect(res.code, res.stdout + res.stderr).to.equal(0);
    expect(res.stdout).to.equal('gantry.config.json (profile embedded): OK, 2 plugins (http, metrics)\n');
  });

  it('exits 1 listing every problem at once, as the kernel would refuse the boot', async () => {
    tmp.write('gantry.config.json', JSON.stringify({ plugins: { http: { port: 70000 }, metricz: {}, users: {} } }));
    const res = await gantry(['config', 'check', '--cwd', tmp.dir], { env: { GANTRY_HTTP__NOPE: '1' } });
    expect(res.code).to.equal(1);
    const lines = res.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^\d+ problems in gantry\.config\.json \(profile embedded\):$/);
    const count = Number(lines[0]!.split(' ')[0]);
    expect(lines.slice(1)).to.have.length(count);
    expect(res.stdout).to.include('cannot find package @gantry/plugin-metricz');
    expect(res.stdout).to.include('plugin "users" depends on "database", which is not enabled');
    expect(res.stdout).to.include('option "port"').and.include('GANTRY_HTTP__NOPE');
    const json = await gantry(['config', 'check', '--json', '--cwd', tmp.dir], { env: { GANTRY_HTTP__NOPE: '1' } });
    expect(json.code).to.equal(1);
    expect(JSON.parse(json.stdout)).to.include({ ok: false }).and.have.property('problems').with.length(count);
  });

  it('finds the config through GANTRY_CONFIG, local plugin paths relative to that file', async () => {
    tmp.write('conf/plugins/vault.mjs', VAULT_PLUGIN);
    tmp.write('conf/app.yaml', 'plugins:\n  http: {}\n  ./plugins/vault.mjs:\n    apiKey: k\n');
    const res = await gantry(['config', 'check', '--cwd', tmp.dir], { env: { GANTRY_CONFIG: 'conf/app.yaml' } });
    expect(res.code, res.stdout + res.stderr).to.equal(0);
    expect(res.stdout).to.include('conf/app.yaml (profile embedded): OK, 2 plugins (http, vault)');
  });

  it('exits 1 with the fix when there is no config file, or an undefined profile is asked for', async () => {
    const none = await gantry(['config', 'check', '--cwd', tmp.dir]);
    expect(none.code).to.equal(1);
    expect(none.stderr)
      .to.include('[GANTRY_CORE_CONFIG_FILE_INVALID] no config file in')
      .and.include('Fix: create gantry.config.json');
    tmp.write('gantry.config.json', JSON.stringify({ plugins: { http: {} }, profiles: { compose: {} } }));
    const profile = await gantry(['config', 'check', '--profile', 'prod', '--cwd', tmp.dir]);
    expect(profile.code).to.equal(1);
    // Listed with every other problem of the setup, not thrown alone.
    expect(profile.stdout + profile.stderr).to.include(
      'profile "prod" is not defined in the config file; defined: compose. Fix:',
    );
  });
});

describe('secret masking', () => {
  it('treats an option as secret by its last word, plurals included, and never a boolean or a number', () => {
    for (const k of [
      'password',
      'clientSecret',
      'csrfSecret',
      'encryptionKey',
      'privateKey',
      'keys',
      'apiKey',
      'token',
      'refresh_token',
      'credentials',
      'pass',
    ])
      expect(isSecretKey(k), k).to.equal(true);
    for (const k of [
      'keyBy',
      'kid',
      'tokenEndpointAuthMethod',
      'accessTtlSeconds',
      'baseUrl',
      'host',
      'passwordPolicyUrl',
    ])
      expect(isSecretKey(k), k).to.equal(false);
    expect(maskValue(['cors', 'credentials'], true)).to.equal(true);
    expect(maskValue(['argon2', 'memoryCost'], 19456)).to.equal(19456);
    expect(String(maskValue(['keys'], [{ kid: 'a', privateKey: 'x' }]))).to.equal(SECRET_MASK);
    expect(String(maskValue(['privateKey', 'd'], 'abc'))).to.equal(SECRET_MASK);
    expect(String(maskValue(['url'], 'redis://:pw@redis:6379'))).to.equal(SECRET_MASK);
    expect(maskValue(['url'], 'redis://redis:6379')).to.equal('redis://redis:6379');
    expect(String(maskValue(['brokers'], ['kafka://u:p@k1:9092']))).to.equal(SECRET_MASK);
  });
});
