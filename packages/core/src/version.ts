import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The version in the package.json nearest to a module (pass `import.meta.url`): a plugin declares
 * `version: packageVersion(import.meta.url)` so the version it reports is the one npm installed,
 * never a constant kept by hand. Works from `dist/src/*.js` in the repository and once installed.
 */
export function packageVersion(moduleUrl: string): string {
  let dir = path.dirname(fileURLToPath(moduleUrl));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      // A nested package.json without a name (e.g. `{"type":"module"}` in a build folder) is not the package's own.
      if (typeof pkg.name === 'string' && typeof pkg.version === 'string') return pkg.version;
    }
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new TypeError(`no package.json with a name and a version above ${fileURLToPath(moduleUrl)}`);
    dir = parent;
  }
}

/** The version of the kernel plugins declare compatibility with (`kernel: '^0.1.0'`): @gantry/core's own package.json version. */
export const KERNEL_VERSION: string = packageVersion(import.meta.url);
