/** {{package}}: the `{{name}}` Gantry plugin. */
export { plugin } from './plugin.js';
export { {{camelName}}ConfigSchema, type {{Name}}Config } from './config.js';
export { {{Name}}Errors } from './errors.js';
export { {{Name}}Token } from './tokens.js';
export type { {{Name}} } from './greeter.js';
