import { CliErrors } from './errors.js';

const PACKAGE_NAME = /^(?:@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;
const PLUGIN_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** Checks an npm package name (lower case, at most 214 characters, optionally scoped). */
export function assertPackageName(name: string, what: string): void {
  if (name.length > 214 || !PACKAGE_NAME.test(name)) {
    throw CliErrors.NAME_INVALID(`${what} "${name}" is not a valid npm package name`);
  }
}

/** Checks a plugin name: kebab-case, as definePlugin requires. */
export function assertPluginName(name: string): void {
  if (!PLUGIN_NAME.test(name)) {
    throw CliErrors.NAME_INVALID(`plugin name "${name}" is not kebab-case`, {
      fix: 'use lower-case words joined by "-", starting with a letter, e.g. "greeting-card"',
    });
  }
}

/** `greeting-card` → `GreetingCard`. */
export function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
}

/** `greeting-card` → `greeting_card` (an identifier for SQL names). */
export function snakeCase(name: string): string {
  return name
    .replace(/^@[^/]+\//, '')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toLowerCase();
}

/** `@acme/my.app` → `my-app` (one DNS label, for example addresses). */
export function hostLabel(name: string): string {
  return (
    name
      .replace(/^@[^/]+\//, '')
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'app'
  );
}
