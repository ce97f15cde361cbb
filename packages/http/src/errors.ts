import { defineErrors } from '@gantry/core';

/** Error registry of @gantry/http. */
export const HttpErrors = defineErrors('http', {
  VALIDATION: { status: 400, title: 'Request validation failed', fix: 'correct the fields listed in "errors"' },
  MALFORMED_JSON: { status: 400, title: 'Malformed JSON body', fix: 'send a valid JSON document' },
  BAD_REQUEST: { status: 400, title: 'Bad request' },
  UNAUTHENTICATED: {
    status: 401,
    title: 'Authentication required',
    fix: 'sign in and send the access token as "Authorization: Bearer <token>" (or the session cookie on routes that accept it)',
  },
  NOT_FOUND: { status: 404, title: 'Not found' },
  REQUEST_TIMEOUT: { status: 408, title: 'Request timeout', fix: 'send the whole request promptly (headers and body)' },
  EXPECTATION_FAILED: {
    status: 417,
    title: 'Expectation failed',
    fix: 'send no Expect header, or "Expect: 100-continue"',
  },
  HEADERS_TOO_LARGE: {
    status: 431,
    title: 'Request header fields too large',
    fix: 'send fewer or smaller headers (cookies included)',
  },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed', fix: 'use one of the methods in the Allow header' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large', fix: 'send a smaller body' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type', fix: 'send the body as application/json' },
  INTERNAL: { status: 500, title: 'Internal server error' },
  SHUTTING_DOWN: {
    status: 503,
    title: 'Server shutting down',
    fix: 'reconnect in a moment: another instance (or this one, restarted) will accept the connection',
  },
  ROUTE_CONFLICT: {
    status: 500,
    title: 'Two routes share a method and path',
    fix: 'change the path of one route, or disable one plugin',
  },
  ROUTE_INVALID: { status: 500, title: 'Route declaration is invalid', fix: 'correct the route declaration' },
  ROUTES_FROZEN: {
    status: 500,
    title: 'Routes added after the server was built',
    fix: 'register routes and middleware in register(), not in start hooks or handlers',
  },
  ROUTE_UNGUARDED: {
    status: 500,
    title: 'Protected route without a guard',
    fix: 'enable the plugin that enforces it (auth-jwt or sessions-redis for authentication, rbac for permissions), or remove the declaration',
  },
  ROUTE_UNDECLARED: {
    status: 500,
    title: 'Route without an access declaration',
    fix: 'declare who may call each route listed: meta: { public: true } for anyone, { auth: true } (rbac\'s authenticated()) for any signed-in caller, or { permission: "<resource>:<action>" } (rbac\'s requires())',
  },
  LISTEN_FAILED: {
    status: 500,
    title: 'HTTP server cannot listen',
    fix: 'free the port or set PORT / GANTRY_HTTP__PORT to another one',
  },
});
