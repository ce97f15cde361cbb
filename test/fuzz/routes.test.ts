// Every route of the sandbox, fuzzed: requests generated from each route's own schemas, mixed with
// hostile values (control characters, lone surrogates, huge and negative numbers, deep nesting,
// prototype keys, odd encodings and content types), anonymous and signed in. The bar: no client
// input ever gets a 5xx, and every refusal is a problem+json with a code.
// FUZZ_SEED and FUZZ_RUNS (per route) replay or widen a run.
import type { RouteInfo } from '@gantry/core';
import { HttpServerToken } from '@gantry/http';
import { expect } from 'chai';
import fc from 'fast-check';
import { z, type ZodType } from 'zod';
import { bootSandboxKernel, type SandboxKernel } from '../support/sandbox-kernel.js';
import { hostileString, mixed, queryValues, valid, type JsonSchema } from './json-schema-arbitrary.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261204);
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);

/** A generated request, kept whole so a failure can be replayed and read. */
interface FuzzRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly payload?: string;
}

function jsonSchemaOf(schema: ZodType | undefined): JsonSchema | undefined {
  if (!schema) return undefined;
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
}

const ODD_SEGMENTS = [
  '%00',
  '%ff',
  '%2e%2e',
  '%c0%ae',
  '%',
  '%zz',
  '..',
  '%2F',
  'A'.repeat(3_000),
  '00000000-0000-4000-8000-00000000000A',
  '%ED%A0%80',
];

/** A path parameter: from its schema, hostile, or an odd raw encoding; then percent-encoded. */
function paramSegment(schema: JsonSchema | undefined): fc.Arbitrary<string> {
  const encode = (v: unknown): string => {
    const text = typeof v === 'string' ? v : (JSON.stringify(v) ?? '');
    try {
      return encodeURIComponent(text) || 'x';
    } catch {
      return '%ED%A0%80'; // a lone surrogate: its UTF-8 form, which no decoder accepts
    }
  };
  const upper = valid(schema).map((v) => (typeof v === 'string' ? encode(v.toUpperCase()) : encode(v)));
  return fc.oneof(valid(schema).map(encode), upper, hostileString.map(encode), fc.constantFrom(...ODD_SEGMENTS));
}

/** Requests for one route: its params, query and body generated from its schemas, hostile in places. */
function requestsFor(route: RouteInfo, tokens: readonly string[]): fc.Arbitrary<FuzzRequest> {
  const params = jsonSchemaOf(route.schema?.params);
  const names = [...route.path.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
  const segments = names.length
    ? fc.tuple(...names.map((n) => paramSegment(params?.properties?.[n])))
    : fc.constant([] as string[]);
  const query = fc.oneof(
    { arbitrary: queryValues(jsonSchemaOf(route.schema?.query)).map((q) => toQuery(q)), weight: 4 },
    {
      arbitrary: fc.constantFrom(
        '?a=%00',
        '?limit=1e999&limit=-1',
        '?__proto__[admin]=1',
        '?%ff=%fe',
        '?a=1&a=2&a=3',
        '?cursor=' + 'x'.repeat(5_000),
      ),
      weight: 1,
    },
  );
  const bodySchema = jsonSchemaOf(route.schema?.body);
  const body = fc.oneof(
    {
      arbitrary: mixed(bodySchema).map((b) => ({ payload: JSON.stringify(b) ?? 'null', type: 'application/json' })),
      weight: 6,
    },
    {
      arbitrary: fc
        .constantFrom('{"a":', '[', '"\\ud800"', '{"a":1,"a":2}', '', 'null', '1e999')
        .map((payload) => ({ payload, type: 'application/json' })),
      weight: 1,
    },
    {
      arbitrary: fc
        .constantFrom(
          'text/plain',
          'application/x-www-form-urlencoded',
          'application/json; charset=utf-16',
          'application/json; charset=latin1',
          'multipart/form-data; boundary=x',
          'application/merge-patch+json',
        )
        .map((type) => ({ payload: '{"title":"x"}', type })),
      weight: 1,
    },
  );
  const auth = fc.constantFrom<(string | undefined)[]>(undefined, ...tokens);
  const ip = fc
    .tuple(fc.integer({ min: 1, max: 223 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 }))
    .map((p) => p.join('.'));
  const withBody = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(route.method);
  return fc
    .record({ segments, query, body, auth, ip, accept: fc.constantFrom('application/json', '*/*', 'text/html') })
    .map(({ segments, query, body, auth, ip, accept }) => {
      let i = 0;
      const url = route.path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, () => segments[i++]!) + query;
      const headers: Record<string, string> = { 'x-forwarded-for': ip, accept };
      if (auth) headers.authorization = `Bearer ${auth}`;
      if (!withBody) return { method: route.method, url, headers };
      headers['content-type'] = body.type;
      return { method: route.method, url, headers, payload: body.payload };
    });
}

function toQuery(values: Record<string, string | string[]>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) for (const one of [v].flat()) params.append(k, one);
  const text = params.toString();
  return text ? `?${text}` : '';
}

describe('fuzz: every sandbox route refuses hostile input without a 5xx', function () {
  this.timeout(240_000);
  let sandbox: SandboxKernel;
  let routes: readonly RouteInfo[];
  let tokens: string[];
  const fuzzed = new Set<string>();

  before(async () => {
    // One client address per request (X-Forwarded-For): rate limits stay out of the way, so
    // requests reach validation and handlers; a 429 would be a valid refusal all the same.
    sandbox = await bootSandboxKernel({ GANTRY_HTTP__TRUST_PROXY: '1' });
    routes = sandbox.kernel.container.get(HttpServerToken).routes();
    tokens = [
      (await sandbox.tokenFor('fuzz-admin@example.com', ['admin'])).token,
      (await sandbox.tokenFor('fuzz-user@example.com', ['user'])).token,
    ];
  });

  after(() => sandbox?.stop());

  it(`answers every generated request with < 500 and a problem+json refusal (seed ${SEED}, ${RUNS} runs per route)`, async () => {
    expect(routes.length).to.be.greaterThan(30);
    for (const route of routes) {
      fuzzed.add(`${route.method} ${route.path}`);
      await fc.assert(
        fc.asyncProperty(requestsFor(route, tokens), async (req) => {
          const res = await sandbox.inject({
            method: req.method as 'GET',
            url: req.url,
            headers: req.headers,
            ...(req.payload !== undefined ? { payload: req.payload } : {}),
          });
          const where = `${req.method} ${req.url.slice(0, 200)} (${route.plugin}) → ${res.statusCode} ${res.body.slice(0, 300)}`;
          expect(res.statusCode, where).to.be.lessThan(500);
          if (res.statusCode >= 400) {
            const type = String(res.headers['content-type']);
            // GraphQL over HTTP answers request errors in its own shape (the spec's), each with a Gantry
            // code in extensions; what the HTTP layer refuses before it (401, 429...) is problem+json.
            if (route.plugin === 'graphql' && /^application\/(graphql-response\+)?json/.test(type)) {
              const errors = (JSON.parse(res.body) as { errors?: { extensions?: { code?: unknown } }[] }).errors;
              expect(errors?.[0]?.extensions?.code, where).to.match(/^GANTRY_/);
            } else {
              expect(type, where).to.match(/^application\/problem\+json/);
              expect((JSON.parse(res.body) as { code?: unknown }).code, where).to.be.a('string');
            }
          }
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
    }
  });

  it('fuzzed every registered route (a new route cannot escape the fuzzer)', () => {
    expect([...fuzzed].sort()).to.deep.equal(routes.map((r) => `${r.method} ${r.path}`).sort());
  });
});
