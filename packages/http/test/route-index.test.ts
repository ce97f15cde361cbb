import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpMethod, HttpMiddleware } from '@gantry/core';
import { expect } from 'chai';
import type expressType from 'express';
import { httpConfigSchema } from '../src/index.js';
import { type EnginePlan, expressEngine, RouteIndex } from '../src/engines.js';

const require = createRequire(import.meta.url);
const express = require('express') as typeof expressType;
type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;
const inject = require('light-my-request') as (
  handler: NodeHandler,
  options: { method: string; url: string },
) => Promise<{ statusCode: number; body: string }>;
// Loaded at run time, as in kit.ts. light-my-request handed an express app re-parents express's shared
// prototypes (every express server in the process then fails): the apps go through isolatedDispatch.
const testingSpecifier: string = '@gantry/testing';
const { isolatedDispatch } = (await import(testingSpecifier)) as { isolatedDispatch(h: NodeHandler): NodeHandler };

// Templates that share prefixes, mix static and parameter segments, repeat a path under several
// methods and overlap (a static segment registered after a parameter at the same place, and before).
const ROUTES: readonly (readonly [HttpMethod, string])[] = [
  ['GET', '/'],
  ['GET', '/api/v1/notes'],
  ['POST', '/api/v1/notes'],
  ['GET', '/api/v1/notes/:id'],
  ['GET', '/api/v1/notes/search'],
  ['PATCH', '/api/v1/notes/:id'],
  ['DELETE', '/api/v1/notes/:id'],
  ['GET', '/api/v1/notes/:id/history/:version'],
  ['GET', '/api/v1/:kind/:id'],
  ['HEAD', '/api/v1/notes/:id'],
  ['GET', '/api/v1/users/me'],
  ['GET', '/api/v1/users/:id'],
  ['GET', '/api/v1/v:major/info'],
  ['OPTIONS', '/api/v1/notes'],
  ['GET', '/files/*rest'],
  ['GET', '/docs{/:page}'],
  ['GET', '/api/v1/Notes'],
  ['GET', '/healthz'],
];

const SEGMENTS = [
  'api',
  'v1',
  'notes',
  'search',
  'users',
  'me',
  'Notes',
  'no%74es',
  '7',
  'a-b',
  'v2',
  'info',
  'history',
  'files',
  'docs',
  'healthz',
  '',
];
const METHODS = ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'OPTIONS', 'PUT'];

/** Deterministic pseudo-random numbers (a failure names the path; the same paths run every time). */
function lcg(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

function paths(count: number): string[] {
  const rnd = lcg(42);
  // A candidate that does not match before one that does (the wildcard before the optional group).
  const out = new Set<string>([
    '/',
    '/api/v1/notes',
    '/api/v1/notes/',
    '/api/v1/notes//',
    '/api/v1/notes/search?x=1',
    '/docs',
    '/docs/intro',
    '/files/a/b',
    '/docs?skip',
  ]);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;
  while (out.size < count) {
    let parts: string[];
    const kind = rnd();
    if (kind < 0.7) {
      // Most paths are a template filled in (parameters, wildcard, optional group), some then altered:
      // a segment dropped or added, or its case changed.
      const [, template] = pick(ROUTES);
      parts = template
        .replace('{/:page}', rnd() < 0.5 ? '' : `/${pick(SEGMENTS)}`)
        .split('/')
        .slice(1)
        .flatMap((segment) =>
          segment.startsWith('*')
            ? [pick(SEGMENTS), ...(rnd() < 0.5 ? [pick(SEGMENTS)] : [])]
            : [segment.includes(':') ? segment.slice(0, segment.indexOf(':')) + pick(SEGMENTS) : segment],
        );
      if (kind > 0.5) {
        const at = Math.floor(rnd() * (parts.length + 1));
        const change = rnd();
        if (change < 0.4) parts.splice(at, 1);
        else if (change < 0.8) parts.splice(at, 0, pick(SEGMENTS));
        else parts = parts.map((segment) => segment.toUpperCase());
      }
    } else {
      const depth = Math.floor(rnd() * 6);
      parts = [];
      // Mostly real prefixes, so that paths reach deep into the templates.
      for (let i = 0; i < depth; i++) parts.push(i < 2 && rnd() < 0.8 ? (['api', 'v1'][i] as string) : pick(SEGMENTS));
    }
    out.add(`/${parts.join('/')}${rnd() < 0.2 ? '/' : ''}${rnd() < 0.2 ? '?skip' : ''}`);
  }
  return [...out];
}

/**
 * Each route's two steps write its number (then 100 more) and go on: the answer lists every route that
 * took the request, in order. With `?skip` in the URL the first step calls next('route'): the second
 * is skipped and the next matching route runs.
 */
const steps = (n: number): HttpMiddleware[] => [
  (req, _res, next) => {
    (req as IncomingMessage & { hits: number[] }).hits.push(n);
    if (req.url?.includes('?skip')) next('route');
    else next();
  },
  (req, _res, next) => {
    (req as IncomingMessage & { hits: number[] }).hits.push(n + 100);
    next();
  },
];
const answer = (req: IncomingMessage, res: ServerResponse): void => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify((req as IncomingMessage & { hits: number[] }).hits));
};

describe('http: express engine route index', () => {
  it('runs exactly the routes a single express router runs, in its order, for every method and path', async () => {
    // Reference: every route a layer of one express app, as express itself dispatches them.
    const reference = express();
    reference.set('case sensitive routing', true);
    reference.use((req, _res, next) => {
      (req as unknown as { hits: number[] }).hits = [];
      next();
    });
    ROUTES.forEach(([method, path], n) => {
      reference[method.toLowerCase() as 'get'](path, ...(steps(n) as expressType.RequestHandler[]));
    });
    reference.use((req, res) => answer(req, res));
    reference.use((err: { status?: number }, _req: unknown, res: expressType.Response, _next: unknown) =>
      res.status(err.status ?? 500).json({ error: err.status }),
    );

    const plan: EnginePlan = {
      prelude: [
        (req, _res, next) => {
          (req as IncomingMessage & { hits: number[] }).hits = [];
          next();
        },
      ],
      routes: ROUTES.map(([method, path], n) => ({ method, path, chain: steps(n) })),
      notMatched: (req, res) => answer(req, res),
      allowedMethods: () => new Set(),
      problem: (err, _req, res) => {
        res.statusCode = (err as { status?: number }).status ?? 500;
        res.end(JSON.stringify({ error: res.statusCode }));
      },
    };
    const engine = expressEngine(plan, httpConfigSchema.parse({}));
    const ours = isolatedDispatch(engine.handler);
    const theirs = isolatedDispatch(reference as unknown as NodeHandler);

    let compared = 0;
    let routed = 0;
    let several = 0;
    for (const url of paths(400))
      for (const method of METHODS) {
        const want = await inject(theirs, { method, url });
        const got = await inject(ours, { method, url });
        expect(`${got.statusCode} ${got.body}`, `${method} ${url}`).to.equal(`${want.statusCode} ${want.body}`);
        compared++;
        const hits = want.statusCode === 200 && want.body !== '' ? (JSON.parse(want.body) as number[]) : [];
        if (hits.length > 0) routed++;
        if (new Set(hits.map((h) => h % 100)).size > 1) several++;
      }
    expect(compared).to.equal(400 * METHODS.length);
    // The comparison is only worth something if many requests reached routes (271 of the 2 800 with
    // these paths, most templates serving one method of seven), and a good share more than one (77).
    expect(routed).to.be.greaterThan(250);
    expect(several).to.be.greaterThan(60);
  });

  it('narrows to the routes whose segments can match, in registration order, GET routes included for HEAD', () => {
    const index = new RouteIndex();
    ROUTES.forEach(([method, path], n) => index.add(method, path, n));
    expect(index.lookup('GET', '/api/v1/notes/search')).to.deep.equal([3, 4, 8, 14, 15]);
    expect(index.lookup('GET', '/api/v1/notes/search/')).to.deep.equal([3, 4, 8, 14, 15]);
    expect(index.lookup('HEAD', '/api/v1/notes/42')).to.deep.equal([3, 8, 9, 14, 15]);
    expect(index.lookup('GET', '/api/v1/users/me')).to.deep.equal([8, 10, 11, 14, 15]);
    expect(index.lookup('POST', '/api/v1/users/me')).to.deep.equal([]);
    expect(index.lookup('GET', '/api/v1/v2/info')).to.deep.equal([8, 12, 14, 15]);
    expect(index.lookup('DELETE', '/api/v1/notes/7')).to.deep.equal([6]);
    // Wildcards and optional groups (14, 15) cannot be split into segments: candidates for every path of their method.
    expect(index.lookup('GET', '/nowhere')).to.deep.equal([14, 15]);
    expect(index.lookup('GET', '/')).to.deep.equal([0, 14, 15]);
  });
});
