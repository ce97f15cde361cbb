import Consul from 'consul';
import type { ConsulConfigOptions } from './config.js';

/** A `consul` npm client for the configured agent URL and token. */
export function consulClient(options: Pick<ConsulConfigOptions, 'url' | 'token'>): Consul {
  const url = new URL(options.url);
  const secure = url.protocol === 'https:';
  return new Consul({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : secure ? 443 : 80,
    secure,
    ...(options.token ? { defaults: { token: options.token } } : {}),
  });
}

/** A short description of an error from the consul client (its code, else its message). */
export function describeConsulError(err: unknown): string {
  const e = err as { code?: string; message?: string; statusCode?: number };
  return e?.code ?? (e?.statusCode ? `HTTP ${e.statusCode}` : undefined) ?? e?.message ?? String(err);
}
