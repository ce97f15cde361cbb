import { token } from '@gantry/core';
import type { OpenapiDocuments } from './documents.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { OpenapiDocuments } from './documents.js';

/** The built OpenAPI document of the application (JSON object and YAML text), available once started. */
export const OpenapiToken = token<OpenapiDocuments>('gantry.openapi.Documents');
