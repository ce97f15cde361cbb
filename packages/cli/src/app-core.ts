import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CliErrors } from './errors.js';

/** The @gantry/core module. */
export type Core = typeof import('@gantry/core');

/**
 * The app's own @gantry/core when it has one, else this CLI's. The app's plugins were built against
 * the app's copy, and tokens are per-copy symbols: a kernel from another copy would not find the
 * tokens those plugins provide (nor give them its own).
 */
export async function loadCore(appDir: string): Promise<Core> {
  let entry: string | undefined;
  try {
    entry = createRequire(path.join(path.resolve(appDir), 'package.json')).resolve('@gantry/core');
  } catch {
    entry = undefined;
  }
  const core = (entry ? await import(pathToFileURL(entry).href) : await import('@gantry/core')) as Core;
  if (typeof core.resolveConfig !== 'function') {
    throw CliErrors.CORE_TOO_OLD(`the app's @gantry/core (${entry}) has no resolveConfig(): it predates this CLI`);
  }
  return core;
}

/** What every command reading an app takes. */
export interface AppOptions {
  /** The app folder (`--cwd`). */
  readonly cwd: string;
  /** Profile (default `GANTRY_PROFILE`, else `embedded`). */
  readonly profile?: string;
  readonly env: NodeJS.ProcessEnv;
}
