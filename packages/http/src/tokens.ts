import { token } from '@gantry/core';
import type { HttpServer } from './server.js';

/** The HTTP server (express app, listening address, in-process handler for tests). */
export const HttpServerToken = token<HttpServer>('gantry.http.HttpServer');
