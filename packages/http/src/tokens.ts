import { token } from '@gantry/core';
import type { HttpServer } from './server.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { HttpServer } from './server.js';

/** The HTTP server (express or fastify engine, listening address, in-process handler for tests). */
export const HttpServerToken = token<HttpServer>('gantry.http.HttpServer');
