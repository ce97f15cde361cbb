/** @gantry/plugin-openapi: the OpenAPI 3.1 document of a Gantry application, and Swagger UI. */
export { plugin } from './plugin.js';
export { OpenapiToken, type OpenapiDocuments } from './tokens.js';
export { OpenapiErrors } from './errors.js';
export { openapiConfigSchema, type OpenapiConfig, type OpenapiOptions } from './config.js';
export {
  generateDocument,
  openapiPath,
  PROBLEM_SCHEMA,
  type GenerateInput,
  type Json,
  type PolicyFacts,
} from './generate.js';
export {
  type AnnotationsCacheOptions,
  type AnnotationsRead,
  mergeAnnotations,
  readAnnotations,
  type MergeReport,
} from './annotations.js';
