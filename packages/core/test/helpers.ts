// Shared helpers of the @gantry/core tests: small plugin factories and a quiet kernel builder.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  createKernel,
  definePlugin,
  GantryError,
  silentLogger,
  type CreateKernelOptions,
  type Kernel,
  type Plugin,
  type PluginDefinition,
} from '../src/index.js';
import { expect } from 'chai';

/** Folder of the committed fixtures (the .mjs files are not compiled, so resolve from the source tree). */
export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');

/** file:// URL of the built @gantry/core entry, for generated plugin modules outside the repo. */
export const CORE_URL = pathToFileURL(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/index.js'),
).href;

/** A valid plugin with the given name; `extra` overrides any field. */
export function plugin(name: string, extra: Partial<PluginDefinition> = {}): Plugin {
  return definePlugin({
    name,
    version: '1.0.0',
    kernel: '^0.1.0',
    register: () => undefined,
    ...extra,
  } as PluginDefinition);
}

/** createKernel with inline config built from the plugin values, a silent logger and an empty env. */
export function kernelOf(
  plugins: readonly Plugin[],
  options: Partial<CreateKernelOptions> & { options?: Record<string, Record<string, unknown>> } = {},
): Promise<Kernel> {
  const { options: pluginOptions, ...rest } = options;
  return createKernel({
    config: { plugins: Object.fromEntries(plugins.map((p) => [p.name, pluginOptions?.[p.name] ?? {}])) },
    plugins,
    env: {},
    logger: silentLogger(),
    ...rest,
  });
}

/** Awaits a promise that must reject with a GantryError; returns it. */
export async function rejection(promise: Promise<unknown>): Promise<GantryError> {
  try {
    await promise;
  } catch (err) {
    expect(GantryError.is(err), `expected a GantryError, got ${String(err)}`).to.equal(true);
    return err as GantryError;
  }
  expect.fail('expected the promise to reject');
}

/** Same for a synchronous call. */
export function thrown(fn: () => unknown): GantryError {
  try {
    fn();
  } catch (err) {
    expect(GantryError.is(err), `expected a GantryError, got ${String(err)}`).to.equal(true);
    return err as GantryError;
  }
  expect.fail('expected the call to throw');
}

/** A fresh temporary folder, removed by the returned cleanup. */
export function tempDir(prefix = 'gantry-core-'): {
  dir: string;
  write(rel: string, text: string): string;
  remove(): void;
} {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return {
    dir,
    write(rel, text) {
      const file = path.join(dir, rel);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, text);
      return file;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Problems listed by a GANTRY_CORE_BOOT_INVALID error. */
export function problemsOf(err: GantryError): string[] {
  expect(err.code).to.equal('GANTRY_CORE_BOOT_INVALID');
  const problems = err.details.problems as string[];
  expect(problems).to.be.an('array');
  return problems;
}
