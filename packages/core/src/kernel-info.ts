import type { HealthRegistry } from './health.js';
import type { Logger } from './logger.js';
import { token } from './token.js';

/** One line of the boot/stop timeline. */
export interface TimelineEntry {
  readonly plugin: string;
  readonly phase: 'register' | 'start' | 'stop';
  readonly hook?: string;
  /**
   * Wall time from the call of the hook (or `register()`) to the settling of its promise. Work that
   * other plugins started earlier runs on the event loop meanwhile (timers, I/O callbacks, their own
   * background start-up) and is counted too: read it as an upper bound of this plugin's cost, not a
   * measure of it.
   */
  readonly ms: number;
}

/** What any plugin may read about the kernel (token {@link KernelInfoToken}). */
export interface KernelInfo {
  readonly version: string;
  readonly profile: string;
  readonly appDir: string;
  /** Enabled plugins in start order. */
  readonly plugins: readonly string[];
  timeline(): readonly TimelineEntry[];
  /**
   * True while the plugin's hooks restart to apply a config change: its routes answer 503 with
   * Retry-After meanwhile (the HTTP layer asks). Optional for hand-made KernelInfo values.
   */
  isRestarting?(plugin: string): boolean;
}

/** Token of {@link KernelInfo}. */
export const KernelInfoToken = token<KernelInfo>('gantry.core.KernelInfo');
/** Token of the kernel's {@link HealthRegistry}. */
export const HealthRegistryToken = token<HealthRegistry>('gantry.core.HealthRegistry');
/** Token of the root logger. */
export const LoggerToken = token<Logger>('gantry.core.Logger');
