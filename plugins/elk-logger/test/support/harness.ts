import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { definePlugin, type Plugin } from '@gantry/core';

/**
 * A TCP json_lines sink: what Logstash's tcp input with codec json_lines reads (one JSON document per
 * line). Every parsed line is kept in `lines`; it can be closed and reopened on the same port.
 */
export class JsonLinesSink {
  readonly lines: Record<string, unknown>[] = [];
  connections = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(public port: number) {}

  static async open(port = 0): Promise<JsonLinesSink> {
    const sink = new JsonLinesSink(port);
    await sink.listen();
    return sink;
  }

  async listen(): Promise<void> {
    const server = createServer((socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      let rest = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        rest += chunk;
        let nl = rest.indexOf('\n');
        while (nl >= 0) {
          const line = rest.slice(0, nl);
          rest = rest.slice(nl + 1);
          if (line.trim()) this.lines.push(JSON.parse(line) as Record<string, unknown>);
          nl = rest.indexOf('\n');
        }
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and drops every open connection (Logstash going away). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  find(predicate: (line: Record<string, unknown>) => boolean): Record<string, unknown> | undefined {
    return this.lines.find(predicate);
  }
}

/** Polls until `fn` returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A port nothing listens on (a server opened and closed at once). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A request id the HTTP layer accepts, unique per call. */
export function requestId(): string {
  return randomUUID();
}

/**
 * An app plugin: GET /hello logs "hello said" through its own plugin logger (not the request's), as
 * a user whose id it sets on the request context; GET /fail answers 500.
 */
export const helloApp: Plugin = definePlugin({
  name: 'hello-app',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http'],
  register(ctx) {
    ctx.http.get('/hello', {}, (req) => {
      req.context.principal = { id: 'user-42', kind: 'user' };
      ctx.logger.info({ greeting: 'hello', password: 'hunter2' }, 'hello said');
      return { hello: 'world' };
    });
  },
});
