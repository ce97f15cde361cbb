/** @gantry/cli: the `gantry` command line, also callable in-process (tests, other tools). */
export { run, EXIT } from './cli.js';
export { processIo, type CliIo } from './io.js';
export { CliErrors } from './errors.js';
export { newApp, appConfig, APP_PROFILES, type NewAppOptions } from './commands/new-app.js';
export { newPlugin, pluginNames, type NewPluginOptions } from './commands/new-plugin.js';
export { doctor, checkNode, SUPPORTED_NODE, type DoctorCheck } from './commands/doctor.js';
export { configCheck, configPrint, resolveApp, type PrintedOption } from './commands/config.js';
export { listPlugins, type PluginReport } from './commands/plugins.js';
export { listRoutes, routeAuth, routeRateLimit, type RouteReport } from './commands/routes.js';
export { loadCatalog, selectPlugins, type CatalogEntry } from './catalog.js';
export { isSecretKey, Masked, maskValue, SECRET_MASK } from './mask.js';
export { CLI_VERSION } from './version.js';
