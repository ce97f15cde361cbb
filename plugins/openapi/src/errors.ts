import { defineErrors } from '@gantry/core';

/** Error registry of the `openapi` plugin (codes `GANTRY_OPENAPI_<REASON>`). Retired codes are never reused. */
export const OpenapiErrors = defineErrors('openapi', {
  ANNOTATIONS_INVALID: {
    status: 500,
    title: 'OpenAPI annotations cannot be read',
    fix: 'correct the YAML of the `@openapi` JSDoc block named in the message, or remove its file from "apis"',
  },
  UI_ASSETS_MISSING: {
    status: 500,
    title: 'Swagger UI files not found',
    fix: 'install swagger-ui-dist (a dependency of @gantry/plugin-openapi), or set "ui": false',
  },
  ACCESS_UNGUARDED: {
    status: 500,
    title: 'Protected OpenAPI routes without an authenticator',
    fix: 'enable auth-jwt or sessions-redis (and rbac for a permission), or set "access": "public" or "enabled": false',
  },
  NOT_BUILT: {
    status: 503,
    title: 'OpenAPI document not built yet',
    fix: 'wait for the application to finish starting, then retry',
  },
});
