// Against real nodes (npm run test:search starts them): Elasticsearch 7.10.2 on 127.0.0.1:9200 and
// OpenSearch 2.19.1 on 127.0.0.1:9201 (test/services/elasticsearch.sh, opensearch.sh).
import { randomBytes } from 'node:crypto';
import { definePlugin } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { plugin as auditPlugin, AuditToken } from '@gantry/plugin-audit';
import { plugin as databasePlugin } from '@gantry/plugin-database';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { ElkShippingToken, plugin } from '../src/index.js';
import { eventually, helloApp, requestId } from './support/harness.js';

const NODES = [
  { name: 'Elasticsearch 7.10.2', url: process.env.ELK_TEST_ES_URL ?? 'http://127.0.0.1:9200' },
  { name: 'OpenSearch 2.19.1', url: process.env.ELK_TEST_OPENSEARCH_URL ?? 'http://127.0.0.1:9201' },
];
const TRACE = '0af7651916cd43dd8448eb211c80319c';

/** GET /audited records an audit entry (the audit plugin logs it as `{ audit: entry }`). */
const auditedApp = definePlugin({
  name: 'audited-app',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http', 'audit'],
  requires: [AuditToken],
  register(ctx) {
    const audit = ctx.container.get(AuditToken);
    ctx.http.get('/audited', {}, async () => {
      const entry = await audit.record({
        action: 'auth.login',
        outcome: 'success',
        actor: { id: 'u-7', kind: 'user' },
      });
      return { id: entry.id };
    });
  },
});

interface Hit {
  readonly _index: string;
  readonly _source: Record<string, unknown>;
}

async function search(url: string, index: string, field: string, value: string): Promise<Hit[]> {
  const res = await fetch(`${url}/${index}/_search?ignore_unavailable=true&allow_no_indices=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: { term: { [field]: value } } }),
    signal: AbortSignal.timeout(5_000),
  });
  // A just-created index answers 503 until its shard is allocated: not found yet.
  if (res.status === 503) return [];
  expect(res.status, await res.clone().text()).to.equal(200);
  return ((await res.json()) as { hits: { hits: Hit[] } }).hits.hits;
}

function today(): string {
  const d = new Date();
  return `${d.getUTCFullYear()}.${String(d.getUTCMonth() + 1).padStart(2, '0')}.${String(d.getUTCDate()).padStart(2, '0')}`;
}

for (const node of NODES) {
  describe(`elk-logger against ${node.name}`, () => {
    const run = randomBytes(4).toString('hex');
    const prefix = `gantry-test-logs-${run}`;
    const auditPrefix = `gantry-test-audit-${run}`;
    let tk: TestKernel;

    before(async () => {
      tk = await createTestKernel({
        plugins: [httpPlugin, databasePlugin, auditPlugin, plugin, helloApp, auditedApp],
        config: {
          database: { dbName: ':memory:' },
          audit: { route: false },
          'elk-logger': {
            console: { enabled: false },
            elasticsearch: {
              enabled: true,
              url: node.url,
              indexPrefix: prefix,
              auditIndexPrefix: auditPrefix,
              flushIntervalMs: 100,
            },
          },
        },
      });
    });

    after(async () => {
      await tk?.stop();
      await fetch(`${node.url}/${prefix}-*,${auditPrefix}-*`, { method: 'DELETE' }).catch(() => undefined);
      await fetch(`${node.url}/_index_template/${prefix}`, { method: 'DELETE' }).catch(() => undefined);
    });

    it("finds a request's log line by its request id within 5 s, in today's index, with trace id, user id and plugin", async () => {
      const id = requestId();
      const res = await tk.inject({
        url: '/api/v1/hello',
        headers: { 'x-request-id': id, traceparent: `00-${TRACE}-b7ad6b7169203331-01` },
      });
      expect(res.statusCode).to.equal(200);
      const hits = await eventually(
        `the line of request ${id} in ${node.name}`,
        async () => {
          const found = await search(node.url, `${prefix}-*`, 'http.request.id', id);
          return found.some((h) => h._source.message === 'hello said') ? found : undefined;
        },
        5_000,
      );
      const line = hits.find((h) => h._source.message === 'hello said')!;
      expect(line._index).to.equal(`${prefix}-${today()}`);
      expect(line._source).to.include({
        'log.logger': 'hello-app',
        'user.id': 'user-42',
        'trace.id': TRACE,
        'log.level': 'info',
        password: '[redacted]',
      });
      // The template the plugin installed at start.
      const template = await fetch(`${node.url}/_index_template/${prefix}`);
      expect(template.status).to.equal(200);
      const shipping = tk.get(ElkShippingToken).stats().elasticsearch;
      expect(shipping.shipped).to.be.greaterThan(0);
      expect(shipping.failed).to.equal(0);
    });

    it('writes an audit entry to its own index, not to the log index', async () => {
      const id = requestId();
      expect((await tk.inject({ url: '/api/v1/audited', headers: { 'x-request-id': id } })).statusCode).to.equal(200);
      const hits = await eventually(
        `the audit entry of request ${id}`,
        async () => {
          const found = await search(node.url, `${auditPrefix}-*`, 'http.request.id', id);
          return found.length > 0 ? found : undefined;
        },
        5_000,
      );
      expect(hits).to.have.length(1);
      expect(hits[0]!._index).to.equal(`${auditPrefix}-${today()}`);
      expect(hits[0]!._source['event.dataset']).to.equal('gantry.audit');
      expect((hits[0]!._source.audit as Record<string, unknown>).action).to.equal('auth.login');
      // Same bulk request: once the audit entry is searchable, a refresh makes the log index current too.
      await fetch(`${node.url}/${prefix}-*/_refresh`, { method: 'POST' });
      const inLogs = await search(node.url, `${prefix}-*`, 'http.request.id', id);
      expect(inLogs.map((h) => h._source.message)).to.deep.equal(['request completed']);
    });
  });
}

// Data streams: OpenSearch has them; the Elasticsearch 7.10.2 OSS node here has none (x-pack), so the
// data-stream naming is checked against OpenSearch only.
describe('elk-logger data-stream naming against OpenSearch 2.19.1', () => {
  const url = NODES[1]!.url;
  const run = randomBytes(4).toString('hex');
  const dataStream = `logs-gtest${run}-default`;
  const auditDataStream = `logs-gtest${run}.audit-default`;
  let tk: TestKernel | undefined;

  after(async () => {
    await tk?.stop();
    for (const ds of [dataStream, auditDataStream])
      await fetch(`${url}/_data_stream/${ds}`, { method: 'DELETE' }).catch(() => undefined);
    await fetch(`${url}/_index_template/${dataStream}-template`, { method: 'DELETE' }).catch(() => undefined);
  });

  it("creates the request's line in the data stream (its backing index), found by request id within 5 s", async () => {
    tk = await createTestKernel({
      plugins: [httpPlugin, plugin, helloApp],
      config: {
        'elk-logger': {
          console: { enabled: false },
          elasticsearch: {
            enabled: true,
            url,
            naming: 'data-stream',
            dataStream,
            auditDataStream,
            flushIntervalMs: 100,
          },
        },
      },
    });
    const id = requestId();
    expect((await tk.inject({ url: '/api/v1/hello', headers: { 'x-request-id': id } })).statusCode).to.equal(200);
    const hits = await eventually(
      `the line of request ${id} in data stream ${dataStream}`,
      async () => {
        const found = await search(url, dataStream, 'http.request.id', id);
        return found.some((h) => h._source.message === 'hello said') ? found : undefined;
      },
      5_000,
    );
    expect(hits[0]!._index.startsWith(`.ds-${dataStream}-`), hits[0]!._index).to.equal(true);
    const ds = await fetch(`${url}/_data_stream/${dataStream}`);
    expect(ds.status).to.equal(200);
  });
});
