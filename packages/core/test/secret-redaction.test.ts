import { createKernel, definePlugin, GantryError, silentLogger } from '@gantry/core';
import { expect } from 'chai';
import { z } from 'zod';

describe('core: boot errors never echo secret-looking values', () => {
  const plugin = definePlugin({
    name: 'vault',
    version: '0.1.0',
    kernel: '^0.1.0',
    config: z.object({
      smtpUrl: z
        .string()
        .regex(/^smtps?:\/\//, 'must look like smtp://host')
        .describe('SMTP URL (may hold a password)'),
      password: z.string().min(12).describe('A secret'),
      level: z.number().int().describe('Not a secret'),
    }),
    register: () => undefined,
  });

  it('says a value was given without printing it, but still prints ordinary values', async () => {
    let error: unknown;
    try {
      await createKernel({
        config: {
          plugins: { vault: { smtpUrl: 'smtp//user:hunter2secret@host', password: 'hunter2', level: 'high' } },
        },
        plugins: [plugin],
        env: {},
        logger: silentLogger(),
      });
    } catch (err) {
      error = err;
    }
    expect(GantryError.is(error)).to.equal(true);
    const message = (error as GantryError).message;
    expect(message).to.include(
      'option "smtpUrl": must look like smtp://host (got a value, not shown: it may be a secret)',
    );
    expect(message).to.include('option "password"');
    expect(message).to.not.include('hunter2');
    expect(message).to.include('option "level"');
    expect(message).to.include('(got "high")');
  });

  it('hides secret-looking keys inside an object printed as a whole (e.g. an unknown key next to a client secret)', async () => {
    const providers = definePlugin({
      name: 'providers',
      version: '0.1.0',
      kernel: '^0.1.0',
      config: z.object({ google: z.object({ clientId: z.string(), clientSecret: z.string() }).strict() }).strict(),
      register: () => undefined,
    });
    let error: unknown;
    try {
      await createKernel({
        config: {
          plugins: { providers: { google: { clientId: 'visible-id', clientSecret: 'hunter2-secret', scope: 'x' } } },
        },
        plugins: [providers],
        env: {},
        logger: silentLogger(),
      });
    } catch (err) {
      error = err;
    }
    const message = (error as GantryError).message;
    expect(message).to.include('option "google"');
    expect(message).to.include('visible-id');
    expect(message).to.not.include('hunter2');
  });
});
