import type { IncomingMessage, ServerResponse } from 'node:http';
import { doubleCsrf } from 'csrf-csrf';
import { appendSetCookie, clearingCookie, readCookie, serializeCookie, type CookieAttributes } from './cookies.js';

/** The header that carries the CSRF token on unsafe cookie-authenticated requests. */
export const CSRF_HEADER = 'x-csrf-token';

/** What {@link CsrfTokens} needs. */
export interface CsrfTokensOptions {
  readonly cookieName: string;
  readonly attributes: CookieAttributes;
  /** The secrets: the first signs, every one verifies. */
  readonly secrets: readonly string[];
}

const kSession = Symbol('gantry.sessions-redis.csrf-session');

/** The parts of a request csrf-csrf reads, without the cookie-parser it expects. */
interface CsrfRequest {
  readonly method: string;
  readonly headers: IncomingMessage['headers'];
  readonly cookies: Record<string, string>;
  readonly [kSession]: string;
}

type Generate = ReturnType<typeof doubleCsrf>['generateCsrfToken'];
type LibraryRequest = Parameters<Generate>[0];
type LibraryResponse = Parameters<Generate>[1];

/**
 * CSRF tokens from csrf-csrf (signed double-submit cookie), bound to the session: the token is an HMAC
 * of the session's store key and a random value, so it works for that session only and dies with it.
 * csrf-csrf expects express with cookie-parser; we hand it a small view of the request (the one cookie
 * it reads) and a response whose `cookie()` appends our own `__Host-` Set-Cookie.
 */
export class CsrfTokens {
  private readonly library: ReturnType<typeof doubleCsrf>;

  constructor(private readonly options: CsrfTokensOptions) {
    const secrets = [...options.secrets];
    this.library = doubleCsrf({
      getSecret: () => secrets,
      getSessionIdentifier: (req) => (req as unknown as CsrfRequest)[kSession],
      cookieName: options.cookieName,
      cookieOptions: { sameSite: options.attributes.sameSite, path: '/', secure: true, httpOnly: true },
      getCsrfTokenFromRequest: (req) => {
        const value = req.headers[CSRF_HEADER];
        return typeof value === 'string' ? value : undefined;
      },
    });
  }

  /**
   * A token for the session `sessionRef`, its cookie appended to `res`. With `reuse`, the token of a valid
   * CSRF cookie of this session is handed back again instead of a new one.
   */
  issue(req: IncomingMessage, res: ServerResponse, sessionRef: string, reuse: boolean): string {
    const { attributes } = this.options;
    const response = {
      cookie: (name: string, value: string) => appendSetCookie(res, serializeCookie(name, value, attributes)),
    };
    return this.library.generateCsrfToken(this.view(req, sessionRef), response as unknown as LibraryResponse, {
      overwrite: !reuse,
    });
  }

  /** True when the request carries this session's token in both the header and the CSRF cookie. */
  valid(req: IncomingMessage, sessionRef: string): boolean {
    return this.library.validateRequest(this.view(req, sessionRef));
  }

  /** Appends a Set-Cookie that deletes the CSRF cookie. */
  clear(res: ServerResponse): void {
    appendSetCookie(res, clearingCookie(this.options.cookieName, this.options.attributes));
  }

  private view(req: IncomingMessage, sessionRef: string): LibraryRequest {
    const value = readCookie(req.headers.cookie, this.options.cookieName);
    const view: CsrfRequest = {
      method: req.method ?? 'GET',
      headers: req.headers,
      cookies: value === undefined ? {} : { [this.options.cookieName]: value },
      [kSession]: sessionRef,
    };
    return view as unknown as LibraryRequest;
  }
}
