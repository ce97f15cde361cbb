import { GantryError } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { plugin as metricsPlugin } from '@gantry/plugin-metrics';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { BoundedQueue, ElkLogger, ElkShippingToken, plugin } from '../src/index.js';
import { formats, MESSAGE } from '../src/logger.js';
import { closedPort, eventually, helloApp, JsonLinesSink, requestId } from './support/harness.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE}-00f067aa0ba902b7-01`;

function logstash(port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { enabled: true, port, minBackoffMs: 20, maxBackoffMs: 200, ...extra };
}

describe('elk-logger: Logstash over TCP json_lines', () => {
  let sink: JsonLinesSink | undefined;
  let tk: TestKernel | undefined;

  afterEach(async () => {
    await tk?.stop();
    await sink?.close();
    tk = undefined;
    sink = undefined;
  });

  it("replaces the kernel's logger: every plugin's lines reach the sink as ECS JSON with request id, trace id, user id and plugin", async () => {
    sink = await JsonLinesSink.open();
    tk = await createTestKernel({
      plugins: [httpPlugin, plugin, helloApp],
      config: { 'elk-logger': { console: { enabled: false }, logstash: logstash(sink.port), serviceName: 'shop' } },
    });
    expect(tk.kernel.logger).to.be.instanceOf(ElkLogger);
    const id = requestId();
    const res = await tk.inject({ url: '/api/v1/hello', headers: { 'x-request-id': id, traceparent: TRACEPARENT } });
    expect(res.statusCode).to.equal(200);

    const line = await eventually('the "hello said" line in the sink', () =>
      sink!.find((l) => l.message === 'hello said' && l['http.request.id'] === id),
    );
    expect(line).to.include({
      'log.level': 'info',
      'log.logger': 'hello-app',
      'trace.id': TRACE,
      'user.id': 'user-42',
      'service.name': 'shop',
      'service.environment': 'embedded',
      'event.dataset': 'shop',
      greeting: 'hello',
      password: '[redacted]',
    });
    expect(line['ecs.version']).to.be.a('string');
    expect(Date.parse(String(line['@timestamp']))).to.be.a('number').and.not.NaN;

    // The access line, written when the response closed, inside the request's context.
    const access = await eventually('the access line', () =>
      sink!.find((l) => l.message === 'request completed' && l['http.request.id'] === id),
    );
    expect(access).to.include({
      'log.logger': 'http',
      'http.request.method': 'GET',
      'url.path': '/api/v1/hello',
      'http.response.status_code': 200,
      'trace.id': TRACE,
      'user.id': 'user-42',
    });

    // Lines logged before the transport connected (the kernel's boot line) were buffered, then shipped.
    await eventually('the boot line', () =>
      sink!.find((l) => typeof l.message === 'string' && l.message.startsWith('started 3 plugins')),
    );
    expect(sink.connections).to.equal(1);
  });

  it('with the sink down, requests still answer, the buffer stays bounded and drops are counted; once it is back, new lines arrive', async () => {
    const port = await closedPort();
    tk = await createTestKernel({
      plugins: [httpPlugin, metricsPlugin, plugin, helloApp],
      config: {
        'elk-logger': { console: { enabled: false }, logstash: logstash(port, { bufferSize: 20 }) },
      },
    });
    const shipping = tk.get(ElkShippingToken);
    const results = await Promise.all(Array.from({ length: 100 }, () => tk!.inject('/api/v1/hello')));
    expect(results.map((r) => r.statusCode)).to.deep.equal(results.map(() => 200));

    const stats = await eventually('drops counted', () => {
      const s = shipping.stats().logstash;
      return s.dropped >= 2 * 100 - 20 && s.errors > 0 ? s : undefined;
    });
    expect(stats.buffered).to.be.at.most(20);
    expect(stats.connected).to.equal(false);

    // Reported, non-critical: degraded, not down.
    const ready = await tk.inject('/readyz');
    expect(ready.statusCode).to.equal(200);
    expect(ready.body).to.include('degraded');
    const metrics = await tk.inject('/metrics');
    expect(metrics.body).to.match(/elk_logger_dropped_total\{transport="logstash"\} [1-9]\d*/);
    expect(metrics.body).to.include('elk_logger_connected{transport="logstash"} 0');

    // Logstash comes back on the same port: the transport reconnects (backoff ≤ 200 ms) and ships.
    sink = await JsonLinesSink.open(port);
    const id = requestId();
    expect((await tk.inject({ url: '/api/v1/hello', headers: { 'x-request-id': id } })).statusCode).to.equal(200);
    await eventually('a line written after the sink came back', () =>
      sink!.find((l) => l.message === 'hello said' && l['http.request.id'] === id),
    );
    expect(shipping.stats().logstash.connected).to.equal(true);
    // The buffer held at most its bound: what was kept (the newest) arrived; everything else was counted as dropped.
    const delivered = sink.lines.length;
    const s = shipping.stats().logstash;
    expect(s.dropped + delivered + s.buffered).to.be.at.least(2 * 101);
  });

  it('ships at stop what it still holds, and writes only lines at or above its level', async () => {
    sink = await JsonLinesSink.open();
    const kernelTk = await createTestKernel({
      plugins: [plugin],
      config: { 'elk-logger': { console: { enabled: false }, logstash: logstash(sink.port), level: 'warn' } },
    });
    const log = kernelTk.kernel.logger.child({ plugin: 'batch' });
    for (let i = 0; i < 300; i++) log.warn({ i }, 'last words');
    log.info('below the level');
    await kernelTk.stop();
    const received = await eventually('every line written before stop', () => {
      const lines = sink!.lines.filter((l) => l.message === 'last words');
      return lines.length === 300 ? lines : undefined;
    });
    expect(received.map((l) => l.i)).to.deep.equal(Array.from({ length: 300 }, (_, i) => i));
    expect(sink.find((l) => l.message === 'below the level')).to.equal(undefined);
  });

  it('routes audit entries (a line with an `audit` field) to their own dataset', async () => {
    sink = await JsonLinesSink.open();
    tk = await createTestKernel({
      plugins: [plugin],
      config: { 'elk-logger': { console: { enabled: false }, logstash: logstash(sink.port) } },
    });
    tk.kernel.logger.child({ plugin: 'audit' }).info({ audit: { action: 'auth.login', outcome: 'success' } }, 'audit');
    const line = await eventually('the audit line', () => sink!.find((l) => l.message === 'audit'));
    expect(line['event.dataset']).to.equal('gantry.audit');
    expect(line.audit).to.deep.equal({ action: 'auth.login', outcome: 'success' });
  });
});

describe('elk-logger: Elasticsearch unreachable', () => {
  it('never fails a request: lines are buffered within the bound, the oldest dropped and counted', async () => {
    const port = await closedPort();
    await using tk = await createTestKernel({
      plugins: [httpPlugin, plugin, helloApp],
      config: {
        'elk-logger': {
          console: { enabled: false },
          elasticsearch: {
            enabled: true,
            url: `http://127.0.0.1:${port}`,
            batchSize: 5,
            flushIntervalMs: 20,
            bufferSize: 30,
            minBackoffMs: 20,
            maxBackoffMs: 100,
          },
        },
      },
    });
    const results = await Promise.all(Array.from({ length: 50 }, () => tk.inject('/api/v1/hello')));
    expect(results.every((r) => r.statusCode === 200)).to.equal(true);
    const stats = await eventually('elasticsearch drops counted', () => {
      const s = tk.get(ElkShippingToken).stats().elasticsearch;
      return s.errors > 0 && s.dropped > 0 ? s : undefined;
    });
    expect(stats.buffered).to.be.at.most(30);
    expect(stats.shipped).to.equal(0);
    expect(stats.connected).to.equal(false);
  });
});

describe('elk-logger: options', () => {
  it('refuses an Elasticsearch URL carrying credentials, with its own code', async () => {
    const err = await createTestKernel({
      plugins: [plugin],
      config: { 'elk-logger': { elasticsearch: { enabled: true, url: 'http://elastic:secret@127.0.0.1:9200' } } },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(GantryError.is(err)).to.equal(true);
    expect((err as GantryError).details.codes).to.include('GANTRY_ELK_LOGGER_CONFIG_INVALID');
  });
});

describe('elk-logger: console formats', () => {
  const info = (): { level: string; message: string; [key: string]: unknown } => ({
    level: 'info',
    message: 'hello said',
    '@timestamp': '2026-01-01T10:00:00.000Z',
    'log.level': 'info',
    'log.logger': 'hello-app',
    'http.request.id': 'req-1',
    'ecs.version': '8.10.0',
    greeting: 'hello',
  });

  it('pretty (embedded): one human line with time, level, plugin, message, request id and the other fields', () => {
    const out = formats.pretty().transform(info(), {}) as Record<symbol, unknown>;
    expect(out[MESSAGE]).to.equal('2026-01-01T10:00:00.000Z INFO  [hello-app] hello said (req-1) {"greeting":"hello"}');
  });

  it('ecs (other profiles): one ECS JSON document', () => {
    const out = formats.json().transform(info(), {}) as Record<symbol, unknown>;
    const doc = JSON.parse(out[MESSAGE] as string) as Record<string, unknown>;
    expect(doc).to.include({ 'log.level': 'info', 'http.request.id': 'req-1', message: 'hello said' });
    expect(doc).to.not.have.property('level');
  });
});

describe('BoundedQueue', () => {
  it('keeps at most its capacity, dropping the oldest, and requeues a batch at the front', () => {
    const q = new BoundedQueue<number>(3);
    let dropped = 0;
    for (let i = 1; i <= 10; i++) dropped += q.push(i);
    expect(dropped).to.equal(7);
    expect(q.size).to.equal(3);
    const batch = q.take(2);
    expect(batch).to.deep.equal([8, 9]);
    q.push(11);
    // [8, 9] go back in front of [10, 11]: 4 > 3, so the oldest (8) is dropped.
    expect(q.requeue(batch)).to.equal(1);
    expect(q.take(10)).to.deep.equal([9, 10, 11]);
    expect(q.size).to.equal(0);
  });
});
