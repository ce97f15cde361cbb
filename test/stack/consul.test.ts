// deploy/consul/kv-seed.txt: every key follows the consul-config layout for the sandbox's compose
// profile and its value is a valid option of that plugin (merged over the defaults, through the
// plugin's own schema), so a typo in the seed fails here rather than at the stack's first boot.
import { readFileSync } from 'node:fs';
import { plugin as httpPlugin } from '@gantry/http';
import { plugin as mailerPlugin } from '@gantry/plugin-mailer';
import { plugin as metricsPlugin } from '@gantry/plugin-metrics';
import { expect } from 'chai';
import type { z } from 'zod';
import { repoPath } from './support.js';

const schemas: Record<string, z.ZodType | undefined> = {
  http: httpPlugin.config,
  mailer: mailerPlugin.config,
  metrics: metricsPlugin.config,
};

/** Required options the compose profile sets in sandbox/gantry.config.json, so the schema sees a full config. */
const base: Record<string, Record<string, unknown>> = {
  mailer: {
    from: 'x <x@example.com>',
    baseUrl: 'http://localhost:8080',
    transport: 'smtp',
    smtpUrl: 'smtp://mailhog:1025',
  },
};

function seed(): Array<{ key: string; value: string }> {
  return readFileSync(repoPath('deploy/consul/kv-seed.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'))
    .map((l) => ({ key: l.slice(0, l.indexOf('=')), value: l.slice(l.indexOf('=') + 1) }));
}

function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

describe('deploy/consul KV seed', () => {
  it('has entries, each under gantry/sandbox/compose/<plugin>/<option>', () => {
    const entries = seed();
    expect(entries.length).to.be.greaterThan(0);
    for (const { key } of entries) expect(key).to.match(/^gantry\/sandbox\/compose\/[a-z-]+\/[A-Za-z]+(\/[A-Za-z]+)*$/);
  });

  it('every value is a valid option of its plugin', () => {
    for (const { key, value } of seed()) {
      const [, , , plugin, ...option] = key.split('/');
      const schema = schemas[plugin!];
      expect(schema, `${key}: no schema known for plugin ${plugin}; add it to this test`).to.not.equal(undefined);
      const config: Record<string, unknown> = structuredClone(base[plugin!] ?? {});
      let at = config;
      for (const part of option.slice(0, -1)) at = (at[part] ??= {}) as Record<string, unknown>;
      at[option.at(-1)!] = parseValue(value);
      const result = schema!.safeParse(config);
      expect(result.success, `${key}=${value}: ${JSON.stringify(result.error?.issues)}`).to.equal(true);
    }
  });

  it('a wrong key is refused (the check can fail)', () => {
    expect(schemas.http!.safeParse({ requestTimeoutMS: 30000 }).success).to.equal(false);
  });
});
