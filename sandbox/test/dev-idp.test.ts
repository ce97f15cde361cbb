// The sandbox's development OpenID provider, booted alone on a free loopback port.
import { createServer } from 'node:net';
import { GantryError } from '@gantry/core';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { plugin as devIdp } from '../src/dev-idp/plugin.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const options = (port: number) => ({
  port,
  clientSecret: 'a-test-secret-of-16+',
  redirectUri: 'http://localhost:3000/api/v1/auth/oauth/dev/callback',
});

describe('sandbox dev-idp plugin', function () {
  this.timeout(20_000);
  const kernels: TestKernel[] = [];
  afterEach(async () => {
    while (kernels.length) await kernels.pop()!.stop();
  });

  it('serves OpenID discovery on 127.0.0.1 with PKCE S256 and ES256 ID tokens, and is up in readiness', async () => {
    const port = await freePort();
    const tk = await createTestKernel({ plugins: [devIdp], config: { 'dev-idp': options(port) } });
    kernels.push(tk);
    const issuer = `http://127.0.0.1:${port}`;
    const res = await fetch(`${issuer}/.well-known/openid-configuration`);
    expect(res.status).to.equal(200);
    const meta = (await res.json()) as {
      issuer: string;
      code_challenge_methods_supported: string[];
      id_token_signing_alg_values_supported: string[];
    };
    expect(meta.issuer).to.equal(issuer);
    expect(meta.code_challenge_methods_supported).to.deep.equal(['S256']);
    expect(meta.id_token_signing_alg_values_supported).to.include('ES256');
    const jwks = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: { kty: string; d?: string }[] };
    expect(jwks.keys.map((k) => k.kty)).to.deep.equal(['EC']);
    expect(jwks.keys[0]!.d, 'private part published').to.equal(undefined);
    const ready = await tk.kernel.health.readiness();
    expect(ready.checks['dev-idp']).to.deep.include({ status: 'up', details: { issuer } });
  });

  it('refuses to run outside the embedded profile: it signs anyone in', async () => {
    let caught: unknown;
    try {
      kernels.push(
        await createTestKernel({
          plugins: [devIdp],
          profile: 'compose',
          config: { 'dev-idp': options(await freePort()) },
        }),
      );
    } catch (err) {
      caught = err;
    }
    const chain: string[] = [];
    for (let e = caught; GantryError.is(e); e = e.cause) chain.push(e.code);
    expect(chain).to.include('GANTRY_SANDBOX_DEV_IDP_PROFILE');
  });

  it('fails its start with GANTRY_SANDBOX_DEV_IDP_LISTEN when the port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      let caught: unknown;
      try {
        kernels.push(
          await createTestKernel({
            plugins: [devIdp],
            config: { 'dev-idp': options((taken.address() as { port: number }).port) },
          }),
        );
      } catch (err) {
        caught = err;
      }
      const chain: string[] = [];
      for (let e = caught; GantryError.is(e); e = e.cause) chain.push(e.code);
      expect(chain).to.include('GANTRY_SANDBOX_DEV_IDP_LISTEN');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
