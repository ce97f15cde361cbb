/** Result of one readiness check. */
export interface HealthResult {
  /** `degraded` keeps the instance ready but is reported (e.g. an open circuit to a dependency). */
  readonly status: 'up' | 'degraded' | 'down';
  readonly details?: Record<string, unknown>;
}

/** A readiness check a plugin registers. */
export interface HealthCheck {
  readonly name: string;
  readonly plugin: string;
  /** A failing critical check makes `/readyz` answer 503. Default true. */
  readonly critical: boolean;
  readonly timeoutMs: number;
  readonly check: () => Promise<HealthResult> | HealthResult;
}

/** Aggregated readiness. */
export interface ReadinessReport {
  readonly status: 'ready' | 'not_ready';
  readonly shuttingDown: boolean;
  readonly checks: Record<
    string,
    {
      status: HealthResult['status'];
      plugin: string;
      critical: boolean;
      durationMs: number;
      details?: Record<string, unknown>;
      error?: string;
    }
  >;
}

/** Holds every plugin's readiness checks and the kernel's own liveness state. */
export class HealthRegistry {
  private readonly checks: HealthCheck[] = [];
  private started = false;
  private shuttingDown = false;

  /** Adds a check; names are unique per kernel. */
  add(check: HealthCheck): void {
    if (this.checks.some((c) => c.name === check.name)) {
      throw new TypeError(
        `health check "${check.name}" is registered twice (plugin "${check.plugin}"); give it another name`,
      );
    }
    this.checks.push(check);
  }

  /** Checks registered by one plugin. */
  byPlugin(plugin: string): readonly HealthCheck[] {
    return this.checks.filter((c) => c.plugin === plugin);
  }

  /** Marks the kernel started (ready can become true) or shutting down (ready becomes false at once). */
  setState(state: { started?: boolean; shuttingDown?: boolean }): void {
    if (state.started !== undefined) this.started = state.started;
    if (state.shuttingDown !== undefined) this.shuttingDown = state.shuttingDown;
  }

  /** Runs every check in parallel, each bounded by its timeout. */
  async readiness(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      this.checks.map(async (c) => {
        const t0 = performance.now();
        let timer: NodeJS.Timeout | undefined;
        try {
          const result = await Promise.race([
            Promise.resolve().then(c.check),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error(`timed out after ${c.timeoutMs} ms`)), c.timeoutMs);
            }),
          ]);
          return [
            c.name,
            {
              status: result.status,
              plugin: c.plugin,
              critical: c.critical,
              durationMs: round(performance.now() - t0),
              ...(result.details ? { details: result.details } : {}),
            },
          ] as const;
        } catch (err) {
          return [
            c.name,
            {
              status: 'down' as const,
              plugin: c.plugin,
              critical: c.critical,
              durationMs: round(performance.now() - t0),
              error: (err as Error).message,
            },
          ] as const;
        } finally {
          if (timer) clearTimeout(timer);
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    const failing = entries.some(([, r]) => r.critical && r.status === 'down');
    const ready = this.started && !this.shuttingDown && !failing;
    return { status: ready ? 'ready' : 'not_ready', shuttingDown: this.shuttingDown, checks };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
