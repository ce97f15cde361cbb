// A real HTTP upstream on 127.0.0.1 that the tests drive: it answers, fails, hangs or recovers on
// demand and records what it saw (requests, paths, headers, bodies, connections cut by the client).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the upstream does with one request. */
export type Behaviour = 'ok' | 'fail' | 'hang' | { readonly status: number };

/** One request as the upstream received it. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** The controllable upstream server. */
export class Upstream {
  /** Requests received so far. */
  readonly seen: SeenRequest[] = [];
  /** Requests whose connection the client closed before the upstream answered. */
  aborted = 0;
  private mode: Behaviour = 'ok';
  private script: Behaviour[] = [];
  private readonly hanging = new Set<ServerResponse>();
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** Starts a server on 127.0.0.1 and a free port. */
  static async start(): Promise<Upstream> {
    let upstream: Upstream | undefined;
    const server = createServer((req, res) => upstream!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    upstream = new Upstream(server, `http://127.0.0.1:${port}`);
    return upstream;
  }

  /** Number of requests received. */
  get hits(): number {
    return this.seen.length;
  }

  /** What every request gets once the script is used up. */
  always(mode: Behaviour): this {
    this.mode = mode;
    return this;
  }

  /** The next requests get these behaviours, one each, before falling back to `always`. */
  next(...behaviours: Behaviour[]): this {
    this.script.push(...behaviours);
    return this;
  }

  /** Answers 200 to every request left hanging. */
  release(): void {
    for (const res of this.hanging) this.answer(res, 200);
    this.hanging.clear();
  }

  /** Back to a healthy upstream with nothing recorded. */
  reset(): void {
    this.release();
    this.seen.length = 0;
    this.aborted = 0;
    this.mode = 'ok';
    this.script = [];
  }

  /** Resolves once `predicate` holds (checked after every request and every client abort). */
  until(predicate: (u: Upstream) => boolean): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (predicate(this)) resolve();
        else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /** Closes the server and every connection. */
  async close(): Promise<void> {
    this.release();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.seen.push({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const behaviour = this.script.shift() ?? this.mode;
      if (behaviour === 'hang') {
        this.hanging.add(res);
        res.on('close', () => {
          if (!res.writableFinished) {
            this.hanging.delete(res);
            this.aborted++;
            this.notify();
          }
        });
      } else if (behaviour === 'ok') this.answer(res, 200);
      else if (behaviour === 'fail') this.answer(res, 500);
      else this.answer(res, behaviour.status);
      this.notify();
    });
  }

  private answer(res: ServerResponse, status: number): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status, hit: this.seen.length }));
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
