import { createRequire } from 'node:module';
import { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';

// express's own helpers (the packages express 5 itself uses), loaded without express: the request and
// response below behave as express's do for what Gantry and its plugins read, on any engine.
const require = createRequire(import.meta.url);
const proxyaddr = require('proxy-addr') as (
  req: IncomingMessage,
  trust: (addr: string, i: number) => boolean,
) => string;
const parseurl = require('parseurl') as (req: IncomingMessage) => { pathname: string | null; query: string | null };
const typeis = require('type-is') as (req: IncomingMessage, types: string[]) => string | false | null;
const mime = require('mime-types') as { contentType(type: string): string | false };
const contentType = require('content-type') as {
  parse(type: string): { type: string; parameters: Record<string, string> };
  format(obj: { type: string; parameters: Record<string, string> }): string;
};
const etag = require('etag') as (body: Buffer, options: { weak: boolean }) => string;
const fresh = require('fresh') as (reqHeaders: object, resHeaders: object) => boolean;

/**
 * `mime.contentType` and express's `setCharset`, memoised: both are pure and a server sends few distinct
 * types, so a response pays a Map lookup instead of a media-type parse (a bounded cache: at most 256).
 */
function memo(fn: (type: string) => string | false): (type: string) => string | false {
  const cache = new Map<string, string | false>();
  return (type) => {
    let out = cache.get(type);
    if (out === undefined) {
      out = fn(type);
      if (cache.size < 256) cache.set(type, out);
    }
    return out;
  };
}
const contentTypeOf = memo((type) => mime.contentType(type));
const withUtf8 = memo((type) => {
  const parsed = contentType.parse(type);
  parsed.parameters.charset = 'utf-8';
  return contentType.format(parsed);
});

const JSON_UTF8 = 'application/json; charset=utf-8';

/** Where the parsed query string is kept (express re-parses it on every read; this parses once). */
const kQuery = Symbol('gantry.http.query');
/** Where a request's client address is kept once resolved (see {@link requestIp}). */
const kIp = Symbol('gantry.http.ip');

/**
 * express's `req.ip` (proxy-addr with the given trust function), resolved once per request: express
 * walks X-Forwarded-For on every read, and a request may be asked several times (its rate-limit key,
 * express-rate-limit's own debug line, an audit entry). Neither the socket nor the headers change.
 */
export function requestIp(req: IncomingMessage, trust: (addr: string, i: number) => boolean): string {
  const self = req as unknown as Record<symbol, string | undefined>;
  return (self[kIp] ??= proxyaddr(req, trust));
}

/**
 * The express-compatible members a Gantry request carries on every engine: what node-level middleware
 * (route hooks, `use()`, express ecosystem middleware such as express-rate-limit) and handlers read.
 */
export interface CompatRequest extends IncomingMessage {
  params: Record<string, string>;
  body?: unknown;
  route?: { readonly path: string };
  query: Record<string, unknown>;
  readonly ip: string | undefined;
  readonly host: string | undefined;
  readonly hostname: string | undefined;
  readonly protocol: string;
  readonly secure: boolean;
  readonly path: string;
  readonly originalUrl: string;
  get(name: string): string | string[] | undefined;
  is(types: string | string[]): string | false | null;
}

/** The express-compatible members of a Gantry response on every engine. */
export interface CompatResponse extends ServerResponse {
  status(code: number): this;
  set(field: string | Record<string, unknown>, value?: unknown): this;
  header(field: string | Record<string, unknown>, value?: unknown): this;
  get(field: string): string | number | string[] | undefined;
  append(field: string, value: string | string[]): this;
  type(type: string): this;
  json(value: unknown): this;
  send(body?: unknown): this;
}

/** Options the compat request and response read (the http plugin's). */
export interface CompatOptions {
  /** Reverse-proxy hops to trust for the client IP, host and protocol (express's numeric `trust proxy`). */
  readonly trustProxy: number | false;
  /** Weak ETags on bodies, with 304 for fresh GET/HEAD (express's `etag` setting). */
  readonly etag: boolean;
}

/** proxy-addr's trust function for the http plugin's `trustProxy`: the first `hops` addresses, or none. */
function trustHops(hops: number | false): (addr: string, i: number) => boolean {
  return hops === false ? () => false : (_addr: string, i: number) => i < hops;
}

/**
 * The client address of a request as express's `req.ip` gives it with `trust proxy` set to the
 * http plugin's `trustProxy` hop count (proxy-addr, as express uses it).
 */
export function clientAddress(req: IncomingMessage, trustProxy: number | false): string {
  return requestIp(req, trustHops(trustProxy));
}

/**
 * Request and response classes with express 5's semantics for the members listed in
 * {@link CompatRequest}/{@link CompatResponse}: handed to `http.createServer` (no per-request cost), and
 * copied onto requests that come from elsewhere (light-my-request's inject) by {@link ensureCompat}.
 */
export function compatClasses(options: CompatOptions): {
  Request: typeof IncomingMessage;
  Response: typeof ServerResponse;
  ensureCompat(req: IncomingMessage, res: ServerResponse): void;
} {
  const trust = trustHops(options.trustProxy);
  const etagOn = options.etag;

  class GantryRequest extends IncomingMessage {
    get ip(): string | undefined {
      return requestIp(this, trust);
    }
    get host(): string | undefined {
      let val = this.get('X-Forwarded-Host') as string | undefined;
      if (!val || !trust(this.socket?.remoteAddress ?? '', 0)) val = this.get('Host') as string | undefined;
      else if (val.indexOf(',') !== -1) val = val.substring(0, val.indexOf(',')).trimEnd();
      return val || undefined;
    }
    get hostname(): string | undefined {
      const host = this.host;
      if (!host) return undefined;
      const offset = host[0] === '[' ? host.indexOf(']') + 1 : 0;
      const index = host.indexOf(':', offset);
      return index !== -1 ? host.substring(0, index) : host;
    }
    get protocol(): string {
      const proto = (this.socket as { encrypted?: boolean } | undefined)?.encrypted ? 'https' : 'http';
      if (!trust(this.socket?.remoteAddress ?? '', 0)) return proto;
      const header = (this.get('X-Forwarded-Proto') as string | undefined) || proto;
      const index = header.indexOf(',');
      return index !== -1 ? header.substring(0, index).trim() : header.trim();
    }
    get secure(): boolean {
      return this.protocol === 'https';
    }
    get path(): string {
      return parseurl(this).pathname ?? '';
    }
    get originalUrl(): string {
      return this.url ?? '/';
    }
    get query(): Record<string, unknown> {
      const self = this as unknown as Record<symbol, Record<string, unknown> | undefined>;
      if (self[kQuery] === undefined) {
        // express's parseurl, for the query alone: what follows the first '?' of the request target.
        const url = this.url ?? '/';
        const at = url.indexOf('?');
        self[kQuery] = parseQuery(at === -1 ? '' : url.slice(at + 1)) as Record<string, unknown>;
      }
      return self[kQuery];
    }
    set query(value: Record<string, unknown>) {
      (this as unknown as Record<symbol, unknown>)[kQuery] = value;
    }
    get(name: string): string | string[] | undefined {
      const lc = name.toLowerCase();
      if (lc === 'referer' || lc === 'referrer') return this.headers.referrer ?? this.headers.referer;
      return this.headers[lc];
    }
    header(name: string): string | string[] | undefined {
      return this.get(name);
    }
    is(types: string | string[]): string | false | null {
      return typeis(this, Array.isArray(types) ? types : [types]);
    }
  }

  class GantryResponse extends ServerResponse {
    status(code: number): this {
      if (!Number.isInteger(code)) throw new TypeError(`Invalid status code: ${JSON.stringify(code)}`);
      if (code < 100 || code > 999) throw new RangeError(`Invalid status code: ${code}`);
      this.statusCode = code;
      return this;
    }
    set(field: string | Record<string, unknown>, val?: unknown): this {
      if (typeof field === 'string') {
        let value: string | string[] | false = Array.isArray(val) ? val.map(String) : String(val);
        if (field.toLowerCase() === 'content-type') {
          if (Array.isArray(value)) throw new TypeError('Content-Type cannot be set to an Array');
          value = contentTypeOf(value);
        }
        this.setHeader(field, value as string);
      } else for (const key in field) this.set(key, field[key]);
      return this;
    }
    header(field: string | Record<string, unknown>, val?: unknown): this {
      return this.set(field, val);
    }
    get(field: string): string | number | string[] | undefined {
      return this.getHeader(field);
    }
    append(field: string, val: string | string[]): this {
      const prev = this.get(field);
      let value: unknown = val;
      if (prev) value = Array.isArray(prev) ? prev.concat(val) : Array.isArray(val) ? [prev].concat(val) : [prev, val];
      return this.set(field, value);
    }
    type(type: string): this {
      return this.set(
        'Content-Type',
        type.indexOf('/') === -1 ? contentTypeOf(type) || 'application/octet-stream' : type,
      );
    }
    json(value: unknown): this {
      if (sendJson(this, value, etagOn)) return this;
      const body = JSON.stringify(value);
      if (!this.get('Content-Type')) this.set('Content-Type', 'application/json');
      return this.send(body);
    }
    send(body?: unknown): this {
      let chunk = body as string | Buffer | undefined;
      let encoding: BufferEncoding | undefined;
      switch (typeof body) {
        case 'string': {
          encoding = 'utf8';
          const type = this.get('Content-Type');
          if (typeof type === 'string') this.set('Content-Type', withUtf8(type));
          else this.type('html');
          break;
        }
        case 'boolean':
        case 'number':
        case 'object':
          if (body === null) chunk = '';
          else if (ArrayBuffer.isView(body)) {
            if (!this.get('Content-Type')) this.type('bin');
          } else return this.json(body);
          break;
      }
      const generateETag = etagOn && !this.get('ETag');
      let len: number | undefined;
      if (chunk !== undefined) {
        if (Buffer.isBuffer(chunk)) len = chunk.length;
        else if (!generateETag && chunk.length < 1000) len = Buffer.byteLength(chunk, encoding);
        else {
          chunk = Buffer.from(chunk, encoding);
          encoding = undefined;
          len = chunk.length;
        }
        if (!this.get('Transfer-Encoding')) this.set('Content-Length', len);
      }
      if (generateETag && len !== undefined) {
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk ?? '', encoding);
        this.set('ETag', etag(buf, { weak: true }));
      }
      finish(this, chunk, encoding);
      return this;
    }
  }

  const requestMembers = members(GantryRequest.prototype);
  const responseMembers = members(GantryResponse.prototype);
  return {
    Request: GantryRequest,
    Response: GantryResponse as unknown as typeof ServerResponse,
    ensureCompat(req, res) {
      if (!(req instanceof GantryRequest) && !Object.hasOwn(req, 'ip')) Object.defineProperties(req, requestMembers);
      if (!(res instanceof GantryResponse) && !Object.hasOwn(res, 'json'))
        Object.defineProperties(res, responseMembers);
    },
  };
}

/**
 * express's `res.json(value)` in one step for its common case, on any engine's response: no
 * Content-Type set yet and no ETag to compute (`etag` off, the default). The same answer as
 * express's (`application/json; charset=utf-8`, Content-Length, 304 for a fresh GET/HEAD against the
 * response's own validators, no body on 204/304, none on HEAD) without its steps: express parses and
 * re-formats the media type with mime-types and content-type on every response. Answers false, having
 * sent nothing, when that case does not apply; the caller then uses the engine's `res.json`.
 */
export function sendJson(res: ServerResponse, value: unknown, etagOn: boolean): boolean {
  // Lower-case names: getHeader lower-cases its argument, which for these costs nothing.
  if (etagOn || res.getHeader('content-type')) return false;
  const body = JSON.stringify(value);
  if (typeof body !== 'string') return false;
  res.setHeader('Content-Type', JSON_UTF8);
  if (!res.getHeader('transfer-encoding'))
    res.setHeader(
      'Content-Length',
      String(body.length < 1000 ? Buffer.byteLength(body, 'utf8') : Buffer.from(body, 'utf8').length),
    );
  finish(res, body, 'utf8');
  return true;
}

/**
 * send()'s tail, once the body and its headers are final: 304 for a fresh GET/HEAD, no body (nor
 * its headers) on 204/304, an empty one on 205, headers only on HEAD.
 */
function finish(res: ServerResponse, chunk: string | Buffer | undefined, encoding: BufferEncoding | undefined): void {
  const req = res.req as IncomingMessage;
  if (isFresh(req, res)) res.statusCode = 304;
  if (res.statusCode === 204 || res.statusCode === 304) {
    res.removeHeader('Content-Type');
    res.removeHeader('Content-Length');
    res.removeHeader('Transfer-Encoding');
    chunk = '';
  }
  if (res.statusCode === 205) {
    res.setHeader('Content-Length', '0');
    res.removeHeader('Transfer-Encoding');
    chunk = '';
  }
  if (req.method === 'HEAD') res.end();
  else res.end(chunk, encoding as BufferEncoding);
}

/** express's `req.fresh`: a GET/HEAD whose validators match the response's (answered 304). */
function isFresh(req: IncomingMessage, res: ServerResponse): boolean {
  const method = req.method;
  if (method !== 'GET' && method !== 'HEAD') return false;
  // fresh() answers false without a conditional header: skip reading the response's validators then.
  if (req.headers['if-none-match'] === undefined && req.headers['if-modified-since'] === undefined) return false;
  const status = res.statusCode;
  if ((status >= 200 && status < 300) || status === 304)
    return fresh(req.headers, { etag: res.getHeader('ETag'), 'last-modified': res.getHeader('Last-Modified') });
  return false;
}

function members(proto: object): PropertyDescriptorMap {
  const { constructor: _constructor, ...all } = Object.getOwnPropertyDescriptors(proto) as PropertyDescriptorMap;
  return all;
}
