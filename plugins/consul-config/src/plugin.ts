import { hostname } from 'node:os';
import path from 'node:path';
import { definePlugin, KernelInfoToken, packageVersion, type HealthResult } from '@gantry/core';
import { consulClient } from './client.js';
import { consulConfigSchema, type ConsulConfigOptions } from './config.js';
import { ConsulDiscovery } from './discovery.js';
import { ConsulConfigErrors } from './errors.js';
import { ConsulKvSource, EMPTY_SOURCE } from './kv-source.js';
import { HttpServerToken } from './peer-tokens.js';
import { Registration, type ServiceDefinition } from './registration.js';
import { DiscoveryToken } from './tokens.js';

/** The application's name in Consul: the `app` option, else its folder's name made a valid segment. */
export function appName(config: Pick<ConsulConfigOptions, 'app'>, appDir: string): string {
  if (config.app) return config.app;
  const base = path
    .basename(appDir)
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '');
  return base.slice(0, 64) || 'app';
}

/** The KV folder of an app and profile: `<prefix>/<app>/<profile>/`. */
export function kvFolder(config: Pick<ConsulConfigOptions, 'app' | 'prefix'>, appDir: string, profile: string): string {
  return `${config.prefix.replace(/\/+$/, '')}/${appName(config, appDir)}/${profile}/`;
}

/** The `consul-config` plugin: plugin options from Consul KV (hot), registration with a /readyz check, discovery. */
export const plugin = definePlugin({
  name: 'consul-config',
  version: packageVersion(import.meta.url),
  kernel: '^0.1.0',
  description:
    'Plugin options from Consul KV layered above env and watched (blocking queries), instance registration with a /readyz check, discovery of healthy instances',
  // http: registration needs its listening address, and deregistration must stop before it drains.
  optionalDependsOn: ['http'],
  provides: [DiscoveryToken],
  config: consulConfigSchema,
  configSource(config, setup) {
    if (!config.config.enabled) return EMPTY_SOURCE;
    return new ConsulKvSource({
      client: consulClient(config),
      folder: kvFolder(config, setup.appDir, setup.profile),
      required: config.required,
      waitMs: config.config.waitMs,
      backoff: config.backoff,
      logger: setup.logger,
      plugins: setup.plugins,
      url: config.url,
    });
  },
  register(ctx) {
    const { config } = ctx;
    const client = consulClient(config);
    const source = ctx.configSource instanceof ConsulKvSource ? ctx.configSource : undefined;
    const discovery = new ConsulDiscovery({
      client,
      waitMs: config.discovery.waitMs,
      resolveTimeoutMs: config.discovery.resolveTimeoutMs,
      backoff: config.backoff,
      logger: ctx.logger,
    });
    ctx.provide(DiscoveryToken, discovery);
    const registration = new Registration({ client, logger: ctx.logger, backoff: config.backoff, url: config.url });
    let definition: ServiceDefinition | undefined;

    // Not critical: an unreachable Consul leaves the instance serving on the config it has. Taking
    // every instance out of rotation because Consul is away would turn its outage into a full one.
    ctx.health.check(
      (): HealthResult => {
        const problems: string[] = [];
        if (source?.state === 'degraded') problems.push(`config source: ${source.lastError ?? 'unreachable'}`);
        if (registration.state === 'failing') problems.push(`registration: ${registration.lastError ?? 'failing'}`);
        return {
          status: problems.length > 0 ? 'degraded' : 'up',
          details: {
            url: config.url,
            ...(source ? { config: source.state, folder: source.name } : {}),
            registration: registration.state,
            ...(definition ? { id: definition.id } : {}),
            discovery: discovery.summary(),
            ...(problems.length > 0 ? { problems } : {}),
          },
        };
      },
      { critical: false },
    );

    // Stopped after every plugin that resolves through it (they come later in start order).
    ctx.lifecycle.hook({
      name: 'discovery',
      stop: async () => {
        await discovery.close();
      },
    });

    const httpEnabled = ctx.container.get(KernelInfoToken).plugins.includes('http');
    if (!config.register.enabled) return;
    if (!httpEnabled) {
      ctx.logger.info('the http plugin is not enabled: this instance is not registered in Consul (nothing to check)');
      return;
    }
    // A serve hook after http's: registered once the socket listens; stopped before http's (serve hooks
    // stop in reverse), so deregistration is the first thing shutdown does, before the drain.
    ctx.lifecycle.hook({
      name: 'registration',
      phase: 'serve',
      timeoutMs: 15_000,
      start: async () => {
        const server = ctx.container.get(HttpServerToken);
        const bound = server.address();
        const port = config.register.port ?? bound?.port;
        if (port === undefined) {
          if (config.required)
            throw ConsulConfigErrors.ADDRESS_UNKNOWN(
              'the http plugin does not listen (listen: false) and register.port is not set: nothing to register',
            );
          ctx.logger.warn('the http plugin does not listen and register.port is not set: not registered in Consul');
          return;
        }
        const wildcard = !bound || bound.address === '0.0.0.0' || bound.address === '::';
        const address = config.register.address ?? (wildcard ? '127.0.0.1' : bound.address);
        const service = config.register.service ?? appName(config, ctx.appDir);
        const host = address.includes(':') ? `[${address}]` : address;
        definition = {
          service,
          id: config.register.id ?? `${service}-${hostname().replace(/[^A-Za-z0-9_.-]+/g, '-')}-${port}`,
          address,
          port,
          tags: config.register.tags,
          checkUrl: `http://${host}:${port}/readyz`,
          checkInterval: config.register.checkInterval,
          checkTimeout: config.register.checkTimeout,
          deregisterCriticalAfter: config.register.deregisterCriticalAfter,
        };
        await registration.start(definition, config.required);
      },
      stop: async () => {
        if (definition) await registration.stop(definition.id);
      },
    });
  },
});
