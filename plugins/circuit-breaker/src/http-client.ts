import type { CircuitBreakers } from './circuit-breakers.js';
import { CircuitBreakerErrors } from './errors.js';

/** Options of {@link CircuitBreakers.httpClient}. */
export interface HttpClientOptions {
  /** Absolute http(s) URL every path is appended to, e.g. `https://payments.internal/api`. */
  readonly baseUrl: string;
  /** Headers sent with every request (a request's own headers override them). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Which response statuses count as failures: retried, counted by the breaker, and, once retries are
   * spent, thrown as GANTRY_CIRCUIT_BREAKER_UPSTREAM_FAILED. Default: 5xx and 429. Other responses
   * (2xx, 3xx, 4xx) are returned as they are.
   */
  readonly isFailureStatus?: (status: number) => boolean;
}

/** A request's options: fetch's, plus `json` (serialised, with its content type) and the caller's `signal`. */
export interface HttpRequestInit extends Omit<RequestInit, 'signal'> {
  /** Sent as the JSON body (and `content-type: application/json`) unless `body` is given. */
  readonly json?: unknown;
  /** The caller's cancellation, combined with the request deadline and the policy's timeout. */
  readonly signal?: AbortSignal;
}

/** Request options of the method shorthands (the method is fixed by the shorthand). */
export type HttpMethodInit = Omit<HttpRequestInit, 'method'>;

/**
 * An HTTP client whose every request runs through one named policy and honours the current
 * request's deadline. Bodies must be replayable (string, Buffer, URLSearchParams, `json`) when the
 * policy retries: a stream can be sent once only.
 */
export interface HttpClient {
  readonly policy: string;
  readonly baseUrl: string;
  request(path: string, init?: HttpRequestInit): Promise<Response>;
  get(path: string, init?: HttpMethodInit): Promise<Response>;
  post(path: string, init?: HttpMethodInit): Promise<Response>;
  put(path: string, init?: HttpMethodInit): Promise<Response>;
  patch(path: string, init?: HttpMethodInit): Promise<Response>;
  delete(path: string, init?: HttpMethodInit): Promise<Response>;
}

/** Default failure statuses: the upstream is broken (5xx) or asks us to back off (429). */
export function defaultIsFailureStatus(status: number): boolean {
  return status >= 500 || status === 429;
}

/** Builds an {@link HttpClient} on global fetch; validates the options once, here. */
export function createHttpClient(
  options: HttpClientOptions & { readonly breakers: CircuitBreakers; readonly policy: string },
): HttpClient {
  const { breakers, policy } = options;
  const baseUrl = checkedBaseUrl(options.baseUrl, policy);
  const defaults = Object.entries(options.headers ?? {});
  const isFailureStatus = options.isFailureStatus ?? defaultIsFailureStatus;

  const request = (path: string, init: HttpRequestInit = {}): Promise<Response> => {
    const { json, signal, headers: ownHeaders, ...rest } = init;
    const method = (init.method ?? 'GET').toUpperCase();
    const url = baseUrl + (path.startsWith('/') ? path : `/${path}`);
    // Only the path reaches errors and logs: query strings may carry tokens.
    const shownPath = url.slice(baseUrl.length).split('?')[0];
    const headers = new Headers(defaults);
    if (ownHeaders) new Headers(ownHeaders).forEach((value, key) => headers.set(key, value));
    let body = rest.body;
    if (body === undefined && json !== undefined) {
      body = JSON.stringify(json);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    }
    const fetchInit: RequestInit = { ...rest, method, headers, body };
    return breakers.execute(
      policy,
      async (attemptSignal) => {
        const response = await fetch(url, { ...fetchInit, signal: attemptSignal });
        if (isFailureStatus(response.status)) {
          // Free the connection now: nobody will read this body.
          await response.body?.cancel().catch(() => undefined);
          throw CircuitBreakerErrors.UPSTREAM_FAILED(`upstream answered ${response.status} to ${method} ${shownPath}`, {
            details: { upstreamStatus: response.status, method, path: shownPath },
          });
        }
        return response;
      },
      signal ? { signal } : undefined,
    );
  };

  const shorthand =
    (method: string) =>
    (path: string, init: HttpMethodInit = {}): Promise<Response> =>
      request(path, { ...init, method });

  return {
    policy,
    baseUrl,
    request,
    get: shorthand('GET'),
    post: shorthand('POST'),
    put: shorthand('PUT'),
    patch: shorthand('PATCH'),
    delete: shorthand('DELETE'),
  };
}

function checkedBaseUrl(raw: string, policy: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw CircuitBreakerErrors.HTTP_CLIENT_INVALID(
      `httpClient("${policy}"): baseUrl ${JSON.stringify(raw)} is not an absolute URL`,
      { details: { policy, baseUrl: raw } },
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw CircuitBreakerErrors.HTTP_CLIENT_INVALID(
      `httpClient("${policy}"): baseUrl must use http or https, got ${url.protocol}`,
      { details: { policy, baseUrl: raw } },
    );
  }
  if (url.search || url.hash) {
    throw CircuitBreakerErrors.HTTP_CLIENT_INVALID(
      `httpClient("${policy}"): baseUrl must not carry a query or fragment`,
      { details: { policy, baseUrl: raw } },
    );
  }
  // Concatenate rather than resolve with new URL(path, base): resolution would drop a base path
  // such as /api and let an absolute path argument point the client at another host.
  return url.href.replace(/\/+$/, '');
}
