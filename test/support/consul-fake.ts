/**
 * A CONTRACT FAKE of the Consul HTTP API — not Consul. No real Consul agent can run on these machines
 * (no Debian package; no npm or Maven artifact ships the binary), so the consul-config tests run
 * against this stateful, in-process stand-in, written from Consul's documented HTTP API for exactly what
 * the plugin (and the `consul` npm client it uses) calls:
 *
 * - KV store (`/v1/kv/<key>`): GET (one key, `?recurse`, `?keys` with `?separator`, `?raw`), PUT (raw
 *   body, `?cas=<ModifyIndex>` with `cas=0` meaning "only if absent", `?flags=`), DELETE (`?recurse`,
 *   `?cas=`). Entries carry `CreateIndex`, `ModifyIndex`, `LockIndex`, `Flags`, `Key`, `Value` (base64,
 *   `null` for an empty value). A missing key is a 404. Every read answers `X-Consul-Index`.
 * - Blocking queries (`?index=N&wait=D`) on KV, health and catalog reads: the answer comes when the
 *   index of what the query reads moves past N, or when the wait (default 5m, max 10m, plus up to
 *   wait/16 of jitter, as Consul adds) elapses. Indexes only move on a change; they start at 1, never 0.
 * - Agent (`/v1/agent/service/register`, `/v1/agent/service/deregister/<id>`, `/v1/agent/services`,
 *   `/v1/agent/checks`): services with `Check`/`Checks` of the HTTP kind, which the fake really polls
 *   at their `Interval` (2xx → passing, 429 → warning, anything else or no answer within `Timeout` →
 *   critical); a check starts `critical` unless it gives `Status`, as Consul's do.
 * - Health (`/v1/health/service/<name>`, `?passing`) and catalog (`/v1/catalog/services`,
 *   `/v1/catalog/service/<name>`), in Consul's shapes, with the node's `serfHealth` check.
 *
 * Not modelled: ACLs, sessions and locks (LockIndex stays 0), datacenters, TTL/script/TCP checks,
 * transactions, prepared queries, consistency modes (every read is consistent). Unknown endpoints
 * answer 404 so a test relying on something unmodelled fails loudly.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A KV entry as Consul returns it (Value base64-decoded here; encoded on the wire). */
export interface FakeKvEntry {
  CreateIndex: number;
  ModifyIndex: number;
  LockIndex: number;
  Key: string;
  Flags: number;
  Value: Buffer;
}

interface FakeCheck {
  CheckID: string;
  Name: string;
  Status: 'passing' | 'warning' | 'critical';
  Output: string;
  ServiceID: string;
  ServiceName: string;
  HTTP: string;
  IntervalMs: number;
  TimeoutMs: number;
  timer?: NodeJS.Timeout;
  polls: number;
}

interface FakeService {
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  Port: number;
  Meta: Record<string, string>;
  CreateIndex: number;
  ModifyIndex: number;
  checks: FakeCheck[];
}

/** A running fake agent. */
export interface ConsulFake {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The current Raft-like index (last change of anything). */
  readonly index: number;
  /** KV entries by key (a copy). */
  kv(): Map<string, FakeKvEntry>;
  /** Registered services by ID with their checks' status. */
  services(): Record<string, { name: string; address: string; port: number; checks: Record<string, string> }>;
  /** How many times the check polled its target so far. */
  checkPolls(checkId: string): number;
  /** Stops listening (clients get ECONNREFUSED), keeping every state; `start()` listens again on the same port. */
  pause(): Promise<void>;
  start(): Promise<void>;
  /** Stops listening, stops polling checks and releases blocked queries. */
  close(): Promise<void>;
}

const MAX_WAIT_MS = 10 * 60_000;
const DEFAULT_WAIT_MS = 5 * 60_000;
const NODE = { ID: '5f0c9f1e-7f4e-4d1a-9b7e-6a3f5b1c0f11', Node: 'gantry-fake', Datacenter: 'dc1' };

/** Parses a Consul duration (`10s`, `500ms`, `1m`, `1m30s`) to milliseconds; undefined when invalid. */
export function parseDuration(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text) / 1e6; // a bare number is nanoseconds in Go
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    const n = Number(m[1]);
    const unit = m[2];
    total += n * ({ ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[unit!] ?? Number.NaN);
    consumed += m[0].length;
  }
  return consumed === text.length && consumed > 0 ? total : undefined;
}

/** Starts the fake on 127.0.0.1 (port 0: any free port). */
export async function startConsulFake(options: { port?: number } = {}): Promise<ConsulFake> {
  let raft = 1;
  const kv = new Map<string, FakeKvEntry>();
  /** Index at which a key was last deleted: a prefix read's index covers deletes under it. */
  const tombstones = new Map<string, number>();
  let kvTable = 1;
  const services = new Map<string, FakeService>();
  let servicesTable = 1;
  let checksTable = 1;
  const waiters = new Set<() => void>();
  let closed = false;

  const changed = (): void => {
    for (const w of [...waiters]) w();
  };
  const bump = (): number => ++raft;

  // ---- indexes of what a read covers ----
  const kvIndex = (key: string, prefix: boolean): number => {
    let max = 0;
    for (const e of kv.values()) if (prefix ? e.Key.startsWith(key) : e.Key === key) max = Math.max(max, e.ModifyIndex);
    for (const [k, at] of tombstones) if (prefix ? k.startsWith(key) : k === key) max = Math.max(max, at);
    // Nothing under the key: Consul answers the KV table's index.
    return max > 0 ? max : kvTable;
  };
  const healthIndex = (): number => Math.max(servicesTable, checksTable);

  // ---- checks ----
  const poll = async (check: FakeCheck): Promise<void> => {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), check.TimeoutMs);
    let status: FakeCheck['Status'];
    let output: string;
    try {
      const res = await fetch(check.HTTP, { signal: ctrl.signal, headers: { 'user-agent': 'Consul Health Check' } });
      await res.body?.cancel().catch(() => undefined);
      status = res.status >= 200 && res.status < 300 ? 'passing' : res.status === 429 ? 'warning' : 'critical';
      output = `HTTP GET ${check.HTTP}: ${res.status} ${res.statusText}`;
    } catch (err) {
      status = 'critical';
      output = `Get "${check.HTTP}": ${(err as Error).message}`;
    } finally {
      clearTimeout(timer);
    }
    check.polls++;
    if (closed || check.timer === undefined) return;
    if (status !== check.Status) {
      check.Status = status;
      checksTable = bump();
      changed();
    }
    check.Output = output;
  };
  const schedule = (check: FakeCheck): void => {
    const tick = (): void => {
      if (closed || check.timer === undefined) return;
      void poll(check).finally(() => {
        if (!closed && check.timer !== undefined) check.timer = setTimeout(tick, check.IntervalMs);
      });
    };
    // Consul runs the first check soon after registration (staggered); here at once.
    check.timer = setTimeout(tick, 0);
  };
  const stopChecks = (svc: FakeService): void => {
    for (const c of svc.checks) {
      if (c.timer) clearTimeout(c.timer);
      c.timer = undefined;
    }
  };

  // ---- HTTP ----
  const send = (res: ServerResponse, status: number, body: unknown, index?: number): void => {
    const text = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': typeof body === 'string' && status !== 200 ? 'text/plain; charset=utf-8' : 'application/json',
      ...(index !== undefined
        ? { 'x-consul-index': String(index), 'x-consul-knownleader': 'true', 'x-consul-lastcontact': '0' }
        : {}),
    });
    res.end(text);
  };
  const readBody = (req: IncomingMessage): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => resolve(Buffer.concat(parts)));
      req.on('error', reject);
    });

  /** Waits, for a blocking query, until `current()` moves past `index` or the wait ends. */
  const block = async (q: URLSearchParams, current: () => number, req: IncomingMessage): Promise<void> => {
    const raw = q.get('index');
    if (raw === null) return;
    const index = Number(raw);
    if (!Number.isFinite(index) || index < 0) return;
    // Consul: an index of 0 does not block.
    if (index === 0 || current() > index) return;
    let wait = DEFAULT_WAIT_MS;
    const w = q.get('wait');
    if (w !== null) wait = Math.min(parseDuration(w) ?? DEFAULT_WAIT_MS, MAX_WAIT_MS);
    wait += Math.random() * (wait / 16);
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
        req.off('close', done);
        resolve();
      };
      const check = (): void => {
        if (closed || current() > index) done();
      };
      const timer = setTimeout(done, wait);
      waiters.add(check);
      req.on('close', done);
    });
  };

  const kvEntryJson = (e: FakeKvEntry): Record<string, unknown> => ({
    LockIndex: e.LockIndex,
    Key: e.Key,
    Flags: e.Flags,
    Value: e.Value.length === 0 ? null : e.Value.toString('base64'),
    CreateIndex: e.CreateIndex,
    ModifyIndex: e.ModifyIndex,
  });

  const handleKv = async (
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    q: URLSearchParams,
  ): Promise<void> => {
    const recurse = q.has('recurse');
    const keysOnly = q.has('keys');
    if (req.method === 'GET') {
      const prefix = recurse || keysOnly;
      await block(q, () => kvIndex(key, prefix), req);
      const index = kvIndex(key, prefix);
      if (keysOnly) {
        const sep = q.get('separator') ?? '';
        const out = new Set<string>();
        for (const k of [...kv.keys()].sort()) {
          if (!k.startsWith(key)) continue;
          if (sep) {
            const at = k.indexOf(sep, key.length);
            out.add(at >= 0 ? k.slice(0, at + sep.length) : k);
          } else out.add(k);
        }
        if (out.size === 0) return send(res, 404, '', index);
        return send(res, 200, [...out], index);
      }
      const entries = [...kv.values()]
        .filter((e) => (recurse ? e.Key.startsWith(key) : e.Key === key))
        .sort((a, b) => (a.Key < b.Key ? -1 : 1));
      if (entries.length === 0) return send(res, 404, '', index);
      if (q.has('raw')) {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-consul-index': String(index) });
        res.end(entries[0]!.Value);
        return;
      }
      return send(res, 200, entries.map(kvEntryJson), index);
    }
    if (req.method === 'PUT') {
      if (!key) return send(res, 400, 'Missing key name');
      const body = await readBody(req);
      if (body.length > 512 * 1024) return send(res, 413, 'Value exceeds 524288 byte limit');
      const existing = kv.get(key);
      const cas = q.get('cas');
      if (cas !== null) {
        const want = Number(cas);
        if (!Number.isInteger(want) || want < 0) return send(res, 400, `Invalid cas index: ${cas}`);
        if (want === 0 ? existing !== undefined : existing?.ModifyIndex !== want) return send(res, 200, false);
      }
      const flags = q.has('flags') ? Number(q.get('flags')) : (existing?.Flags ?? 0);
      const at = bump();
      kv.set(key, {
        Key: key,
        Value: body,
        Flags: flags,
        LockIndex: existing?.LockIndex ?? 0,
        CreateIndex: existing?.CreateIndex ?? at,
        ModifyIndex: at,
      });
      tombstones.delete(key);
      kvTable = at;
      changed();
      return send(res, 200, true);
    }
    if (req.method === 'DELETE') {
      const cas = q.get('cas');
      if (cas !== null) {
        if (recurse) return send(res, 400, 'Conflicting flags: cas=' + cas + '&recurse');
        const existing = kv.get(key);
        if (existing && existing.ModifyIndex !== Number(cas)) return send(res, 200, false);
      }
      const doomed = [...kv.keys()].filter((k) => (recurse ? k.startsWith(key) : k === key));
      if (doomed.length > 0) {
        const at = bump();
        for (const k of doomed) {
          kv.delete(k);
          tombstones.set(k, at);
        }
        kvTable = at;
        changed();
      }
      return send(res, 200, true);
    }
    return send(res, 405, 'method not allowed');
  };

  const serviceJson = (s: FakeService) => ({
    ID: s.ID,
    Service: s.Service,
    Tags: s.Tags,
    Address: s.Address,
    Port: s.Port,
    Meta: s.Meta,
    Weights: { Passing: 1, Warning: 1 },
    EnableTagOverride: false,
    Datacenter: NODE.Datacenter,
  });
  const checkJson = (c: FakeCheck) => ({
    Node: NODE.Node,
    CheckID: c.CheckID,
    Name: c.Name,
    Status: c.Status,
    Notes: '',
    Output: c.Output,
    ServiceID: c.ServiceID,
    ServiceName: c.ServiceName,
    ServiceTags: [],
    Type: 'http',
  });
  const serfHealth = {
    Node: NODE.Node,
    CheckID: 'serfHealth',
    Name: 'Serf Health Status',
    Status: 'passing',
    Notes: '',
    Output: 'Agent alive and reachable',
    ServiceID: '',
    ServiceName: '',
    ServiceTags: [],
    Type: '',
  };

  const register = async (req: IncomingMessage, res: ServerResponse) => {
    let def: Record<string, unknown>;
    try {
      def = JSON.parse((await readBody(req)).toString('utf8')) as Record<string, unknown>;
    } catch {
      return send(res, 400, 'Request decode failed: invalid JSON');
    }
    const name = def.Name;
    if (typeof name !== 'string' || name === '') return send(res, 400, 'Missing service name');
    const id = typeof def.ID === 'string' && def.ID ? def.ID : name;
    const rawChecks = [
      ...(def.Check ? [def.Check as Record<string, unknown>] : []),
      ...((def.Checks as Record<string, unknown>[] | undefined) ?? []),
    ];
    const checks: FakeCheck[] = [];
    for (const [i, c] of rawChecks.entries()) {
      if (typeof c.HTTP !== 'string')
        return send(res, 400, 'Invalid check: the fake models HTTP checks only (HTTP + Interval)');
      const interval = parseDuration(String(c.Interval ?? ''));
      if (interval === undefined || interval <= 0) return send(res, 400, 'Invalid check: Interval must be > 0s');
      const timeout = c.Timeout === undefined ? 10_000 : parseDuration(String(c.Timeout));
      if (timeout === undefined) return send(res, 400, `Invalid check: bad Timeout ${String(c.Timeout)}`);
      const checkId =
        typeof c.CheckID === 'string' && c.CheckID
          ? c.CheckID
          : rawChecks.length === 1
            ? `service:${id}`
            : `service:${id}:${i + 1}`;
      const status = c.Status === 'passing' || c.Status === 'warning' ? c.Status : 'critical';
      checks.push({
        CheckID: checkId,
        Name: typeof c.Name === 'string' ? c.Name : `Service '${name}' check`,
        Status: status,
        Output: '',
        ServiceID: id,
        ServiceName: name,
        HTTP: c.HTTP,
        IntervalMs: interval,
        TimeoutMs: timeout,
        polls: 0,
      });
    }
    const previous = services.get(id);
    if (previous) stopChecks(previous);
    const at = bump();
    const svc: FakeService = {
      ID: id,
      Service: name,
      Tags: Array.isArray(def.Tags) ? (def.Tags as string[]) : [],
      Address: typeof def.Address === 'string' ? def.Address : '',
      Port: typeof def.Port === 'number' ? def.Port : 0,
      Meta: (def.Meta as Record<string, string> | undefined) ?? {},
      CreateIndex: previous?.CreateIndex ?? at,
      ModifyIndex: at,
      checks,
    };
    services.set(id, svc);
    servicesTable = at;
    checksTable = at;
    for (const c of checks) schedule(c);
    changed();
    return send(res, 200, '');
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const q = url.searchParams;
    const p = url.pathname;
    if (p.startsWith('/v1/kv/') || p === '/v1/kv') return handleKv(req, res, decodeURIComponent(p.slice(7)), q);
    if (req.method === 'PUT' && p === '/v1/agent/service/register') return register(req, res);
    if (req.method === 'PUT' && p.startsWith('/v1/agent/service/deregister/')) {
      const id = decodeURIComponent(p.slice('/v1/agent/service/deregister/'.length));
      const svc = services.get(id);
      if (!svc)
        return send(
          res,
          404,
          `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`,
        );
      stopChecks(svc);
      services.delete(id);
      const at = bump();
      servicesTable = at;
      checksTable = at;
      changed();
      return send(res, 200, '');
    }
    if (req.method === 'GET' && p === '/v1/agent/services') {
      return send(res, 200, Object.fromEntries([...services.values()].map((s) => [s.ID, serviceJson(s)])));
    }
    if (req.method === 'GET' && p === '/v1/agent/checks') {
      return send(
        res,
        200,
        Object.fromEntries([...services.values()].flatMap((s) => s.checks.map((c) => [c.CheckID, checkJson(c)]))),
      );
    }
    if (req.method === 'GET' && p.startsWith('/v1/health/service/')) {
      const name = decodeURIComponent(p.slice('/v1/health/service/'.length));
      await block(q, healthIndex, req);
      const passingOnly = q.has('passing') && q.get('passing') !== 'false';
      const out = [...services.values()]
        .filter((s) => s.Service === name)
        .filter((s) => !passingOnly || s.checks.every((c) => c.Status === 'passing'))
        .map((s) => ({
          Node: { ID: NODE.ID, Node: NODE.Node, Address: '127.0.0.1', Datacenter: NODE.Datacenter, Meta: {} },
          Service: serviceJson(s),
          Checks: [serfHealth, ...s.checks.map(checkJson)],
        }));
      return send(res, 200, out, healthIndex());
    }
    if (req.method === 'GET' && p === '/v1/catalog/services') {
      await block(q, () => servicesTable, req);
      const out: Record<string, string[]> = { consul: [] };
      for (const s of services.values()) out[s.Service] = [...new Set([...(out[s.Service] ?? []), ...s.Tags])];
      return send(res, 200, out, servicesTable);
    }
    if (req.method === 'GET' && p.startsWith('/v1/catalog/service/')) {
      const name = decodeURIComponent(p.slice('/v1/catalog/service/'.length));
      await block(q, () => servicesTable, req);
      const out = [...services.values()]
        .filter((s) => s.Service === name)
        .map((s) => ({
          ID: NODE.ID,
          Node: NODE.Node,
          Address: '127.0.0.1',
          Datacenter: NODE.Datacenter,
          ServiceID: s.ID,
          ServiceName: s.Service,
          ServiceTags: s.Tags,
          ServiceAddress: s.Address,
          ServicePort: s.Port,
          ServiceMeta: s.Meta,
          CreateIndex: s.CreateIndex,
          ModifyIndex: s.ModifyIndex,
        }));
      return send(res, 200, out, servicesTable);
    }
    if (req.method === 'GET' && p === '/v1/status/leader') return send(res, 200, '"127.0.0.1:8300"');
    return send(res, 404, `no such endpoint in the Consul fake: ${req.method} ${p}`);
  };

  let server: Server | undefined;
  let port = options.port ?? 0;
  const listen = async (): Promise<void> => {
    const s = createServer((req, res) => {
      handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) send(res, 500, String((err as Error).message));
        else res.destroy();
      });
    });
    s.keepAliveTimeout = 1_000;
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  const unlisten = async (): Promise<void> => {
    const s = server;
    server = undefined;
    if (!s) return;
    // Blocked queries are answered at once (as an agent going away would cut them).
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  };
  await listen();

  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    host: '127.0.0.1',
    get port() {
      return port;
    },
    get index() {
      return raft;
    },
    kv: () => new Map([...kv].map(([k, v]) => [k, { ...v }])),
    services: () =>
      Object.fromEntries(
        [...services.values()].map((s) => [
          s.ID,
          {
            name: s.Service,
            address: s.Address,
            port: s.Port,
            checks: Object.fromEntries(s.checks.map((c) => [c.CheckID, c.Status])),
          },
        ]),
      ),
    checkPolls: (id) => [...services.values()].flatMap((s) => s.checks).find((c) => c.CheckID === id)?.polls ?? 0,
    pause: unlisten,
    start: listen,
    close: async () => {
      closed = true;
      for (const s of services.values()) stopChecks(s);
      changed();
      await unlisten();
    },
  };
}
