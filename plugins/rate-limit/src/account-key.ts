import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpErrors } from '@gantry/http';
import { RateLimitErrors } from './errors.js';

/** What {@link readAccountKey} needs. */
export interface AccountKeyOptions {
  /** Top-level field of the JSON body naming the account (`email`, `mfaToken`...). */
  readonly field: string;
  /** Largest body read; larger ones get 413. */
  readonly maxBytes: number;
}

/**
 * The counter key of an account name: trimmed, NFKC-normalised, lower-cased, then SHA-256 (base64url),
 * so `Alice@Example.com ` and `alice@example.com` share one counter and Redis holds no address in clear.
 * Undefined when the value is not a non-empty string.
 */
export function accountKey(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const normalised = value.normalize('NFKC').trim().toLowerCase();
  if (normalised === '') return undefined;
  return createHash('sha256').update(normalised).digest('base64url');
}

/**
 * Reads the account named by a JSON body field, before the HTTP layer parses the body (route guards
 * run first). The body is *peeked*: its bytes are put back on the request stream, so the HTTP layer
 * then parses it exactly as on any other route (its own limit, strictness and errors).
 *
 * Undefined (count by IP only) when the request has no JSON body or the field is missing. Bodies the
 * peek cannot read are refused rather than let through uncounted, since the HTTP layer would still
 * parse them: compressed (415), a charset other than UTF-8 (415), chunked without Content-Length (411),
 * over `maxBytes` (413).
 */
export async function readAccountKey(req: IncomingMessage & { body?: unknown }, options: AccountKeyOptions): Promise<string | undefined> {
  // Parsed already (e.g. by a global middleware): use it.
  if (req.body !== undefined) return accountKey(fieldOf(req.body, options.field));
  const headers = req.headers;
  const length = headers['content-length'];
  if (headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return undefined;
  const contentType = headers['content-type'];
  if (contentType === undefined || !isJsonType(contentType)) return undefined; // the route refuses it (415) or ignores it
  const charset = charsetOf(contentType);
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw HttpErrors.UNSUPPORTED_MEDIA_TYPE(`this route accepts UTF-8 JSON bodies only (got charset ${charset})`);
  }
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    throw HttpErrors.UNSUPPORTED_MEDIA_TYPE('this route does not accept compressed request bodies (Content-Encoding); send the JSON uncompressed');
  }
  if (headers['transfer-encoding'] !== undefined || length === undefined) {
    throw RateLimitErrors.LENGTH_REQUIRED('this route needs the request body with a Content-Length header (chunked bodies are not accepted)');
  }
  const bytes = Number(length);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw HttpErrors.BAD_REQUEST('the Content-Length header is not a number');
  if (bytes > options.maxBytes) throw HttpErrors.PAYLOAD_TOO_LARGE('the request body is larger than the limit');
  const body = await peek(req, bytes);
  return accountKey(fieldOf(parseJson(body), options.field));
}

function isJsonType(contentType: string): boolean {
  const semi = contentType.indexOf(';');
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  // The media types the HTTP layer parses as JSON: application/json and application/*+json.
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json') && !type.slice(12, -5).includes('/'));
}

function charsetOf(contentType: string): string | undefined {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType);
  return m ? m[1]!.toLowerCase() : undefined;
}

function parseJson(body: Buffer): unknown {
  let text = body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Malformed: the HTTP layer answers 400 when it parses the same bytes; nothing to count here.
    return undefined;
  }
}

function fieldOf(doc: unknown, field: string): unknown {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !Object.hasOwn(doc, field)) return undefined;
  return (doc as Record<string, unknown>)[field];
}

/**
 * Reads exactly `bytes` bytes of the body and puts them back (`unshift`) before the stream ends, so
 * the next reader sees the whole body. Reading in paused mode ('readable') and stopping at
 * Content-Length keeps the 'end' event from firing: a stream cannot be unshifted after it.
 */
function peek(req: IncomingMessage, bytes: number): Promise<Buffer> {
  if (bytes === 0) return Promise.resolve(Buffer.alloc(0));
  if (req.readableEnded) return Promise.reject(HttpErrors.BAD_REQUEST('the request body could not be read'));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('readable', onReadable);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onEnd);
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while (size < bytes && (chunk = req.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        size += chunk.length;
      }
      if (size < bytes) return;
      cleanup();
      const body = Buffer.concat(chunks, size);
      req.unshift(body);
      resolve(body);
    };
    const onEnd = (): void => {
      cleanup();
      reject(HttpErrors.BAD_REQUEST('the request body ended before its Content-Length'));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(HttpErrors.BAD_REQUEST('the request body could not be read', { cause: err }));
    };
    req.on('readable', onReadable);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onEnd);
  });
}
