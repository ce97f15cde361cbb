/** @gantry/http: the express 5 HTTP transport of Gantry. */
export { plugin } from './plugin.js';
export { httpConfigSchema, type HttpConfig } from './config.js';
export { HttpErrors } from './errors.js';
export { HttpServerToken } from './tokens.js';
export { HttpServer, sendProblem, type FieldError, type RouteDefinition, type UpgradeHandler } from './server.js';
export {
  PROBLEM_CONTENT_TYPE,
  toProblem,
  writeRawProblem,
  type ProblemDocument,
  type ProblemResponse,
} from './problem.js';
export { securityHeaders } from './security.js';
