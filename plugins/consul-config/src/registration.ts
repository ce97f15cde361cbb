import type { Logger } from '@gantry/core';
import type Consul from 'consul';
import { abortableSleep, backoffDelay } from './backoff.js';
import { describeConsulError } from './client.js';
import { ConsulConfigErrors } from './errors.js';

/** What is registered in Consul for this instance. */
export interface ServiceDefinition {
  readonly service: string;
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly tags: readonly string[];
  /** The URL Consul polls (this instance's /readyz). */
  readonly checkUrl: string;
  readonly checkInterval: string;
  readonly checkTimeout: string;
  readonly deregisterCriticalAfter: string;
}

/**
 * This instance's entry in Consul's catalog, with an HTTP check on /readyz. Registered when the
 * instance serves; a failed registration is retried with backoff (readiness degraded meanwhile);
 * deregistered first thing at shutdown, so traffic moves away before the HTTP server drains.
 */
export class Registration {
  state: 'idle' | 'registering' | 'registered' | 'failing' | 'deregistered' = 'idle';
  lastError: string | undefined;
  private readonly ctrl = new AbortController();
  private retrying: Promise<void> | undefined;

  constructor(
    private readonly options: {
      readonly client: Consul;
      readonly logger: Logger;
      readonly backoff: { readonly initialMs: number; readonly maxMs: number };
      readonly url: string;
    },
  ) {}

  /** Registers now; on failure throws when `required`, else keeps retrying in the background. */
  async start(def: ServiceDefinition, required: boolean): Promise<void> {
    this.state = 'registering';
    try {
      await this.registerOnce(def);
    } catch (cause) {
      const why = describeConsulError(cause);
      this.state = 'failing';
      this.lastError = why;
      if (required)
        throw ConsulConfigErrors.REGISTRATION_FAILED(
          `registering "${def.id}" in Consul at ${this.options.url} failed: ${why}`,
          { cause, details: { id: def.id, reason: why } },
        );
      this.options.logger.warn(
        { id: def.id, reason: why, code: ConsulConfigErrors.REGISTRATION_FAILED.code },
        `registering "${def.id}" in Consul failed (${why}); retrying in the background`,
      );
      this.retrying = this.retry(def);
    }
  }

  /** Stops retrying and deregisters (bounded: a Consul away at shutdown must not hold the process). */
  async stop(id: string): Promise<void> {
    this.ctrl.abort();
    await this.retrying;
    if (this.state !== 'registered') return;
    try {
      await this.options.client.agent.service.deregister({ id, timeout: 3_000 } as never);
      this.state = 'deregistered';
      this.options.logger.info({ id }, `deregistered "${id}" from Consul`);
    } catch (err) {
      // Consul removes it anyway once its check stays critical for deregisterCriticalAfter.
      this.options.logger.warn(
        { id, reason: describeConsulError(err) },
        `deregistering "${id}" from Consul failed; its check will go critical and Consul will drop it`,
      );
    }
  }

  private async registerOnce(def: ServiceDefinition): Promise<void> {
    await this.options.client.agent.service.register({
      name: def.service,
      id: def.id,
      address: def.address,
      port: def.port,
      tags: [...def.tags],
      check: {
        name: `${def.service} /readyz`,
        http: def.checkUrl,
        interval: def.checkInterval,
        timeout: def.checkTimeout,
        deregistercriticalserviceafter: def.deregisterCriticalAfter,
      },
      timeout: 5_000,
    } as never);
    this.state = 'registered';
    this.lastError = undefined;
    this.options.logger.info(
      { id: def.id, service: def.service, address: def.address, port: def.port, check: def.checkUrl },
      `registered "${def.id}" in Consul`,
    );
  }

  private async retry(def: ServiceDefinition): Promise<void> {
    const { backoff } = this.options;
    for (let attempt = 0; !this.ctrl.signal.aborted; attempt++) {
      await abortableSleep(backoffDelay(attempt, backoff.initialMs, backoff.maxMs), this.ctrl.signal);
      if (this.ctrl.signal.aborted) return;
      try {
        await this.registerOnce(def);
        return;
      } catch (err) {
        this.lastError = describeConsulError(err);
      }
    }
  }
}
