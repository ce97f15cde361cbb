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
  /**
   * Resolve the base URL's host as a service name through discovery (the consul-config plugin) and
   * balance requests round robin over its healthy instances. Default: when the host is a bare name
   * (`http://payments/api`: no dot, no port, not localhost or an IP) and discovery is enabled. `true`
   * requires discovery; `false` always uses DNS.
   */
  readonly discovery?: boolean;
}

/** One instance discovery returns (the consul-config plugin's ServiceInstance fits). */
export interface ServiceEndpoint {
  readonly id: string;
  readonly address: string;
  readonly port: number;
}

/** What the HTTP client needs of service discovery (the consul-config plugin's Discovery fits). */
export interface ServiceResolver {
  resolve(service: string): Promise<readonly ServiceEndpoint[]>;
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
  options: HttpClientOptions & {
    readonly breakers: CircuitBreakers;
    readonly policy: string;
    readonly resolver?: (() => ServiceResolver | undefined) | undefined;
  },
): HttpClient {
  const { breakers, policy } = options;
  const baseUrl = checkedBaseUrl(options.baseUrl, policy);
  const defaults = Object.entries(options.headers ?? {});
  const isFailureStatus = options.isFailureStatus ?? defaultIsFailureStatus;
  const parsed = new URL(baseUrl);
  const service = options.discovery === false ? undefined : serviceName(parsed, options.discovery === true);
  const basePath = parsed.pathname.replace(/\/+$/, '');
  let turn = 0;

  /** The base URL of this attempt: the configured one, or the next healthy instance of the service. */
  const baseFor = async (): Promise<string> => {
    if (service === undefined) return baseUrl;
    const resolver = options.resolver?.();
    if (!resolver) {
      if (options.discovery === true)
        throw CircuitBreakerErrors.HTTP_CLIENT_INVALID(
          `httpClient("${policy}"): discovery: true but no discovery is enabled (enable the consul-config plugin)`,
          { details: { policy, service } },
        );
      return baseUrl;
    }
    const instances = await resolver.resolve(service);
    if (instances.length === 0) {
      throw CircuitBreakerErrors.NO_HEALTHY_INSTANCE(`no healthy instance of service "${service}"`, {
        details: { policy, service },
        headers: { 'Retry-After': '1' },
      });
    }
    const instance = instances[turn++ % instances.length]!;
    if (turn >= Number.MAX_SAFE_INTEGER) turn = 0;
    const host = instance.address.includes(':') ? `[${instance.address}]` : instance.address;
    return `${parsed.protocol}//${host}:${instance.port}${basePath}`;
  };

  const request = (path: string, init: HttpRequestInit = {}): Promise<Response> => {
    const { json, signal, headers: ownHeaders, ...rest } = init;
    const method = (init.method ?? 'GET').toUpperCase();
    const suffix = path.startsWith('/') ? path : `/${path}`;
    // Only the path reaches errors and logs: query strings may carry tokens.
    const shownPath = suffix.split('?')[0];
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
        // Each attempt picks its instance: a retry goes to the next one.
        const url = (await baseFor()) + suffix;
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

/** The service a base URL names for discovery: a bare host (no dot, no port, not localhost or an IP), or any host when forced. */
function serviceName(url: URL, force: boolean): string | undefined {
  const host = url.hostname;
  if (force) return host;
  if (url.port || host.includes('.') || host.includes(':') || host.startsWith('[') || host === 'localhost')
    return undefined;
  return host;
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
