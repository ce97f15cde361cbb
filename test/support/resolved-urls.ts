// The URL of every module the current process resolves from now on: ES imports and CommonJS
// requires alike (module.registerHooks, Node ≥ 23.5).
import { registerHooks } from 'node:module';

/** Starts recording; the set grows as the process resolves modules. */
export function recordResolvedUrls(): Set<string> {
  const urls = new Set<string>();
  registerHooks({
    resolve(specifier, context, next) {
      const result = next(specifier, context);
      urls.add(result.url);
      return result;
    },
  });
  return urls;
}
