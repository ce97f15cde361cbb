import { STATUS_CODES } from 'node:http';
import { GantryError } from '@gantry/core';
import { HttpErrors } from './errors.js';

/** An RFC 9457 problem document as Gantry sends it. */
export interface ProblemDocument {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly instance?: string;
  readonly requestId?: string;
  readonly [extension: string]: unknown;
}

/** The media type of problem documents. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** A problem and the headers that go with it. */
export interface ProblemResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: ProblemDocument;
  /** True when the error is a server fault worth logging with its stack. */
  readonly unexpected: boolean;
}

interface BodyParserError {
  type?: string;
  status?: number;
  statusCode?: number;
  expose?: boolean;
}

/**
 * Maps any thrown value to a problem: GantryErrors keep their code and status; body-parser errors
 * become 400/413/415; anything else becomes a generic 500 whose body says nothing about the cause.
 */
export function toProblem(err: unknown, requestId?: string, instance?: string): ProblemResponse {
  let e: GantryError;
  if (GantryError.is(err)) e = err;
  else {
    const bp = err as BodyParserError;
    switch (bp?.type) {
      case 'entity.too.large':
        e = HttpErrors.PAYLOAD_TOO_LARGE('the request body is larger than the limit');
        break;
      case 'entity.parse.failed':
        e = HttpErrors.MALFORMED_JSON('the request body is not valid JSON');
        break;
      case 'charset.unsupported':
      case 'encoding.unsupported':
        e = HttpErrors.UNSUPPORTED_MEDIA_TYPE('the request body charset or content encoding is not supported');
        break;
      case 'request.aborted':
      case 'request.size.invalid':
      case 'stream.encoding.set':
        e = HttpErrors.BAD_REQUEST('the request body could not be read');
        break;
      default: {
        const status = bp?.status ?? bp?.statusCode;
        const clientError = typeof status === 'number' && status >= 400 && status < 500;
        if (clientError && bp?.expose === true) e = HttpErrors.BAD_REQUEST('the request cannot be processed');
        // The router marks an undecodable path parameter (`/items/%zz`) 400 without `expose`: still the client's fault.
        else if (clientError && err instanceof URIError)
          e = HttpErrors.BAD_REQUEST('the request path is not valid percent-encoding');
        else e = HttpErrors.INTERNAL('an unexpected error occurred');
      }
    }
  }
  // Server faults other than "unavailable"/"timeout" keep their message in the logs, not in the response.
  const hideDetail = e.status >= 500 && e.status !== 503 && e.status !== 504;
  const body: Record<string, unknown> = {
    type: `urn:gantry:problem:${e.code}`,
    title: e.title,
    status: e.status,
    detail: hideDetail ? 'An unexpected error occurred. Quote the request id when reporting it.' : e.message,
    code: e.code,
  };
  if (instance) body.instance = instance;
  if (requestId) body.requestId = requestId;
  if (!hideDetail) {
    for (const [k, v] of Object.entries(e.details)) if (!(k in body)) body[k] = v;
  }
  return { status: e.status, headers: e.headers, body: body as ProblemDocument, unexpected: hideDetail };
}

/** Reason phrases of the raw responses (Node's table: upgrade refusals answer 401, 403, 404, 503...). */
const REASONS: Readonly<Record<number, string | undefined>> = STATUS_CODES;

/**
 * Writes a problem as a whole HTTP/1.1 response straight to a socket and closes it: for errors of
 * Node's parser, raised before any request object exists, and for refused upgrades (the connection
 * cannot be reused after them).
 */
export function writeRawProblem(socket: { end(chunk: string): unknown }, error: GantryError): void {
  // The body a route's problem has (details, a server fault's message withheld), without a request id.
  const problem = toProblem(error);
  let extra = '';
  for (const [name, value] of Object.entries(problem.headers ?? {}))
    if (/^[A-Za-z0-9-]+$/.test(name) && !/[\r\n]/.test(String(value))) extra += `${name}: ${String(value)}\r\n`;
  const body = JSON.stringify(problem.body);
  socket.end(
    `HTTP/1.1 ${problem.status} ${REASONS[problem.status] ?? 'Bad Request'}\r\n` +
      `content-type: ${PROBLEM_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `cache-control: no-store\r\nx-content-type-options: nosniff\r\nconnection: close\r\n${extra}\r\n${body}`,
  );
}
