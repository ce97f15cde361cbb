import { constants, existsSync, statSync } from 'node:fs';
import { access } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import nodemailer from 'nodemailer';
import pg from 'pg';

/** Connects to PostgreSQL and runs `select 1`; rejects with the driver's error. */
export async function probePostgres(options: {
  clientUrl?: string;
  host: string;
  port: number;
  user?: string;
  password?: string;
  database?: string;
  timeoutMs: number;
}): Promise<void> {
  let connectionString: string | undefined;
  if (options.clientUrl) {
    // The plugin's rule: the URL names the server, and its path the database unless dbName is set.
    const url = new URL(options.clientUrl);
    if (options.database) url.pathname = `/${encodeURIComponent(options.database)}`;
    connectionString = url.href;
  }
  const client = new pg.Client(
    connectionString
      ? { connectionString, connectionTimeoutMillis: options.timeoutMs, query_timeout: options.timeoutMs }
      : {
          host: options.host,
          port: options.port,
          user: options.user,
          password: options.password,
          database: options.database,
          connectionTimeoutMillis: options.timeoutMs,
          query_timeout: options.timeoutMs,
        },
  );
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Connects to Redis and sends PING, with no retry; rejects when it does not answer PONG. */
export async function probeRedis(url: string, timeoutMs: number): Promise<void> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // The socket's own error (ECONNREFUSED, ENOTFOUND) says more than the "Connection is closed." that
  // connect() rejects with once retries are off; the listener also keeps ioredis from printing it.
  let socketError: Error | undefined;
  redis.on('error', (err: Error) => (socketError ??= err));
  try {
    await redis.connect().catch((err: unknown) => {
      throw socketError ?? err;
    });
    const pong = await redis.ping();
    if (pong !== 'PONG') throw new Error(`PING answered ${JSON.stringify(pong)} instead of PONG`);
  } finally {
    redis.disconnect();
  }
}

/** Opens an SMTP session (greeting, EHLO, STARTTLS when offered, login when the URL has credentials) and closes it. */
export async function probeSmtp(options: {
  url: string;
  secure?: boolean;
  requireTLS: boolean;
  timeoutMs: number;
}): Promise<void> {
  const transport = nodemailer.createTransport({
    url: options.url,
    ...(options.secure === undefined ? {} : { secure: options.secure }),
    requireTLS: options.requireTLS,
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
    dnsTimeout: options.timeoutMs,
    logger: false,
  } as Parameters<typeof nodemailer.createTransport>[0]);
  try {
    await transport.verify();
  } finally {
    transport.close();
  }
}

/** Opens a TCP connection to host:port and closes it. */
export function probeTcp(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('error', reject);
  });
}

/**
 * Whether a file can be written where `target` points: the file itself when it exists, else the
 * nearest existing folder above it (where it would be created). Resolves with what was checked.
 */
export async function probeWritable(target: string, kind: 'file' | 'folder'): Promise<string> {
  if (existsSync(target)) {
    const isDir = statSync(target).isDirectory();
    if (kind === 'file' && isDir) throw new Error(`${target} is a folder, not a file`);
    if (kind === 'folder' && !isDir) throw new Error(`${target} is a file, not a folder`);
    await access(target, constants.W_OK);
    // SQLite writes its journal beside the database file.
    if (kind === 'file') await access(path.dirname(target), constants.W_OK);
    return `${target} is writable`;
  }
  let dir = path.dirname(target);
  while (!existsSync(dir)) dir = path.dirname(dir);
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is a file: ${target} cannot be created under it`);
  await access(dir, constants.W_OK);
  return `${target} will be created (${dir} is writable)`;
}
