// Graceful shutdown of a real process: the fixture app is spawned, signalled and watched from outside.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import path from 'node:path';
import { expect } from 'chai';
import { FIXTURES } from './helpers.js';

const APP = path.join(FIXTURES, 'shutdown-app.mjs');

interface Child {
  readonly proc: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once stdout has a line matching `re` (returns the match). */
  waitFor(re: RegExp): Promise<RegExpMatchArray>;
}

function start(args: string[], env: Record<string, string> = {}): Child {
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GANTRY_')));
  const proc = spawn(process.execPath, [APP, ...args], {
    env: { ...cleanEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const child: Child = {
    proc,
    stdout: '',
    stderr: '',
    exited: once(proc, 'exit').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    })),
    waitFor(re) {
      const m = child.stdout.match(re);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        waiters.push({ re, resolve });
        void child.exited.then(() =>
          reject(new Error(`exited before printing ${re}; stdout:\n${child.stdout}\nstderr:\n${child.stderr}`)),
        );
      });
    },
  };
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    child.stdout += chunk;
    for (const w of [...waiters]) {
      const m = child.stdout.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (child.stderr += chunk));
  return child;
}

/** GET on a new connection; resolves with status and body, or the connection error. */
function get(port: number, path: string): Promise<{ status: number; body: string } | { error: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('error', (error) => resolve({ error }));
    });
    req.on('error', (error) => resolve({ error }));
    req.end();
  });
}

describe('runMain and graceful shutdown (child process)', function () {
  this.timeout(20_000);
  const children: Child[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) {
        c.proc.kill('SIGKILL');
        await c.exited;
      }
    }
  });

  it('on SIGTERM finishes the in-flight request, stops accepting new ones and exits 0', async () => {
    const child = start(['serve', '700']);
    children.push(child);
    const port = Number((await child.waitFor(/^PORT=(\d+)$/m))[1]);
    expect(await get(port, '/readyz')).to.include({ status: 200 });

    const inFlight = get(port, '/slow');
    await child.waitFor(/^SLOW-STARTED$/m);
    child.proc.kill('SIGTERM');
    await child.waitFor(/^SIGTERM-RECEIVED$/m);

    // Readiness is false at once: a new connection is refused or reset (listener closed, possibly
    // with the connection still in its backlog), or answered 503 if it got in before the close.
    const ready = await get(port, '/readyz');
    if ('error' in ready) expect(ready.error.code).to.be.oneOf(['ECONNREFUSED', 'ECONNRESET']);
    else expect(ready.status).to.equal(503);

    const done = await inFlight;
    expect(done, child.stdout + child.stderr).to.deep.equal({ status: 200, body: '{"done":true}' });
    const exit = await child.exited;
    expect(exit, child.stdout + child.stderr).to.deep.equal({ code: 0, signal: null });
  });

  it('writes log lines while it runs, not only when a buffer fills or at exit', async () => {
    const child = start(['serve', '700'], { GANTRY_KERNEL__LOG_LEVEL: 'info' });
    children.push(child);
    await child.waitFor(/^PORT=(\d+)$/m);
    // The start-up lines are far less than a 4 KiB buffer: they must reach stdout while the process serves.
    const line = await Promise.race([
      child.waitFor(/^\{.*"msg":"listening on http:\/\/127\.0\.0\.1:\d+"\}$/m),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`no log line while serving; stdout:\n${child.stdout}`)), 5_000),
      ),
    ]);
    expect(JSON.parse(line[0])).to.include({ level: 30, plugin: 'http' });
    expect(child.proc.exitCode).to.equal(null);
  });

  it('exits non-zero on a second SIGTERM during a long drain', async () => {
    const child = start(['serve', '10000']);
    children.push(child);
    const port = Number((await child.waitFor(/^PORT=(\d+)$/m))[1]);
    const inFlight = get(port, '/slow');
    await child.waitFor(/^SLOW-STARTED$/m);
    child.proc.kill('SIGTERM');
    await child.waitFor(/^SIGTERM-RECEIVED$/m);
    child.proc.kill('SIGTERM');
    const exit = await child.exited;
    expect(exit.code, child.stdout + child.stderr).to.equal(130);
    // The cut request fails on the client side rather than hanging.
    expect(await inFlight).to.have.property('error');
  });

  it('exits 1 when the drain passes shutdownTimeoutMs, logging GANTRY_CORE_SHUTDOWN_TIMEOUT', async () => {
    const child = start(['serve', '10000'], { GANTRY_KERNEL__SHUTDOWN_TIMEOUT_MS: '300' });
    children.push(child);
    const port = Number((await child.waitFor(/^PORT=(\d+)$/m))[1]);
    const inFlight = get(port, '/slow');
    await child.waitFor(/^SLOW-STARTED$/m);
    child.proc.kill('SIGTERM');
    const exit = await child.exited;
    expect(exit.code, child.stdout + child.stderr).to.equal(1);
    expect(child.stdout).to.include('GANTRY_CORE_SHUTDOWN_TIMEOUT');
    expect(child.stdout).to.include('graceful shutdown did not finish within 300 ms');
    await inFlight;
  });

  it('runs a plugin command without serving and exits with its code', async () => {
    const child = start(['run', 'greet', 'ada', 'lovelace']);
    children.push(child);
    const exit = await child.exited;
    expect(exit, child.stdout + child.stderr).to.deep.equal({ code: 3, signal: null });
    expect(child.stdout.split('\n').filter((l) => !l.startsWith('{'))).to.deep.equal([
      'STARTED',
      'hello ada lovelace',
      'STOPPED',
      '',
    ]);
  });

  it('exits 1 naming the known commands for an unknown command', async () => {
    const child = start(['run', 'gret']);
    children.push(child);
    const exit = await child.exited;
    expect(exit.code, child.stdout + child.stderr).to.equal(1);
    expect(child.stderr).to.include('[GANTRY_CORE_BAD_REQUEST] unknown command "gret" (known: greet)');
    expect(child.stdout).to.include('STOPPED');
  });

  it('with a bad setup exits 1 before listening and prints every problem on stderr', async () => {
    const child = start(['bad-config']);
    children.push(child);
    const exit = await child.exited;
    expect(exit, child.stderr).to.deep.equal({ code: 1, signal: null });
    expect(child.stdout).not.to.match(/PORT=/);
    expect(child.stderr).to.match(/^\[GANTRY_CORE_BOOT_INVALID\] the application cannot start: 3 problems/);
    expect(child.stderr).to.include(
      'plugin "not-installed-anywhere": cannot find package @gantry/plugin-not-installed-anywhere',
    );
    expect(child.stderr).to.include('plugin "http": option "port"');
    expect(child.stderr).to.include('(got "eighty")');
    expect(child.stderr).to.include('plugin "slow": option "delayMs"');
    expect(child.stderr).to.include('Fix: correct every problem listed, then start again');
  });
});
