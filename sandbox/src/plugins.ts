// Every plugin key of gantry.config.json (base and every profile) with the module it loads. The
// kernel calls only the loaders of the keys the chosen profile enables, so this list imports nothing
// by itself; it is what lets a bundler (scripts/bundle.mjs) see every plugin module and put each in a
// chunk of its own. A key missing here would still be resolved from node_modules, but a bundled app
// would then load a second copy of @gantry/core beside its own: test/packaging/bundle.test.ts keeps the list
// equal to the config's keys.
import type { PluginLoaders } from '@gantry/core';

export const pluginLoaders: PluginLoaders = {
  http: () => import('@gantry/http'),
  metrics: () => import('@gantry/plugin-metrics'),
  database: () => import('@gantry/plugin-database'),
  'circuit-breaker': () => import('@gantry/plugin-circuit-breaker'),
  mailer: () => import('@gantry/plugin-mailer'),
  redis: () => import('@gantry/plugin-redis'),
  'rate-limit': () => import('@gantry/plugin-rate-limit'),
  audit: () => import('@gantry/plugin-audit'),
  'kafka-events': () => import('@gantry/plugin-kafka-events'),
  'auth-jwt': () => import('@gantry/plugin-auth-jwt'),
  rbac: () => import('@gantry/plugin-rbac'),
  'sessions-redis': () => import('@gantry/plugin-sessions-redis'),
  users: () => import('@gantry/plugin-users'),
  mfa: () => import('@gantry/plugin-mfa'),
  oauth: () => import('@gantry/plugin-oauth'),
  openapi: () => import('@gantry/plugin-openapi'),
  websocket: () => import('@gantry/plugin-websocket'),
  graphql: () => import('@gantry/plugin-graphql'),
  'elk-logger': () => import('@gantry/plugin-elk-logger'),
  'consul-config': () => import('@gantry/plugin-consul-config'),
  './dist/src/notes/plugin.js': () => import('./notes/plugin.js'),
  './dist/src/realtime/plugin.js': () => import('./realtime/plugin.js'),
  './dist/src/demo/plugin.js': () => import('./demo/plugin.js'),
  './dist/src/seed/plugin.js': () => import('./seed/plugin.js'),
  './dist/src/pages/plugin.js': () => import('./pages/plugin.js'),
  './dist/src/dev-idp/plugin.js': () => import('./dev-idp/plugin.js'),
};
