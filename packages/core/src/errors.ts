import { defineErrors } from './gantry-error.js';

/** Error registry of @gantry/core. Codes are stable; retired ones are never reused. */
export const CoreErrors = defineErrors('core', {
  BOOT_INVALID: {
    status: 500,
    title: 'Application setup is invalid',
    fix: 'correct every problem listed, then start again',
  },
  PLUGIN_INVALID: {
    status: 500,
    title: 'Plugin definition is invalid',
    fix: 'fix the definePlugin({...}) call of that plugin',
  },
  CONFIG_FILE_INVALID: {
    status: 500,
    title: 'Config file cannot be read',
    fix: 'check the file exists and is valid JSON, YAML or TypeScript',
  },
  HOOK_TIMEOUT: {
    status: 500,
    title: 'Lifecycle hook timed out',
    fix: 'make the hook finish sooner or raise its timeoutMs',
  },
  HOOK_FAILED: { status: 500, title: 'Lifecycle hook failed' },
  REGISTER_FAILED: { status: 500, title: 'Plugin registration failed' },
  TOKEN_NOT_BOUND: {
    status: 500,
    title: 'Dependency is not bound',
    fix: 'enable the plugin that provides it and list the token in "requires"',
  },
  TOKEN_NOT_PROVIDED: {
    status: 500,
    title: 'Token provided without declaration',
    fix: 'add the token to the plugin\'s "provides" list',
  },
  KERNEL_STATE: { status: 500, title: 'Kernel used in the wrong state' },
  HTTP_UNAVAILABLE: {
    status: 500,
    title: 'No HTTP transport enabled',
    fix: 'enable the "http" plugin and add "http" to dependsOn',
  },
  SHUTDOWN_TIMEOUT: {
    status: 500,
    title: 'Graceful shutdown exceeded its deadline',
    fix: 'find the plugin that does not stop in time (see the log) or raise shutdownTimeoutMs',
  },
  DEADLINE_EXCEEDED: { status: 504, title: 'Deadline exceeded' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'Service unavailable' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  CONFLICT: { status: 409, title: 'Conflict' },
  BAD_REQUEST: { status: 400, title: 'Bad request' },
  UNAUTHORIZED: { status: 401, title: 'Unauthorized' },
  FORBIDDEN: { status: 403, title: 'Forbidden' },
  INTERNAL: { status: 500, title: 'Internal server error' },
  CONFIG_SOURCE_FAILED: {
    status: 500,
    title: 'Remote config source failed',
    fix: 'make the config source reachable (see the logged cause), or do not mark it required',
  },
  CONFIG_CHANGE_REJECTED: {
    status: 400,
    title: 'Config change rejected',
    fix: 'correct the value in the remote source (see the key and the reason); the previous value stays in effect',
  },
  PLUGIN_RESTARTING: {
    status: 503,
    title: 'Plugin is restarting',
    fix: 'retry after the Retry-After delay: the plugin restarts to apply a config change',
  },
  PATCH_SCHEMA_INVALID: {
    status: 500,
    title: 'Schema cannot describe a partial update',
    fix: 'pass patchSchema() an object without object-level refinements or hidden defaults',
  },
});
