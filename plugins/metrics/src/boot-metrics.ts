import type { KernelInfo } from '@gantry/core';
import { Gauge, type Registry } from 'prom-client';

/**
 * `gantry_plugin_boot_duration_seconds{plugin, phase}`: how long each plugin took to register and
 * to start (its start hooks summed), read from the kernel timeline at scrape time so that plugins
 * started after this one are included.
 */
export function registerBootMetrics(registry: Registry, info: KernelInfo): Gauge<'plugin' | 'phase'> {
  return new Gauge({
    name: 'gantry_plugin_boot_duration_seconds',
    help: 'Time each plugin took to register and to start (start hooks summed), in seconds',
    labelNames: ['plugin', 'phase'],
    registers: [registry],
    collect() {
      const totals = new Map<string, Map<string, number>>();
      for (const entry of info.timeline()) {
        if (entry.phase === 'stop') continue;
        let byPhase = totals.get(entry.plugin);
        if (!byPhase) totals.set(entry.plugin, (byPhase = new Map()));
        byPhase.set(entry.phase, (byPhase.get(entry.phase) ?? 0) + entry.ms);
      }
      this.reset();
      for (const [plugin, byPhase] of totals) for (const [phase, ms] of byPhase) this.set({ plugin, phase }, ms / 1000);
    },
  });
}
