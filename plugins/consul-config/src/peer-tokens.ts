// Tokens of optional collaborators, declared here by their global name (token() is Symbol.for):
// importing them from the packages that provide them would make those packages mandatory installs.
import { token } from '@gantry/core';
import type { HttpServer } from '@gantry/http';

/** @gantry/http's server (its listening address), when the http plugin is enabled. */
export const HttpServerToken = token<HttpServer>('gantry.http.HttpServer');
