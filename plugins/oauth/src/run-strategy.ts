import type { IncomingMessage, ServerResponse } from 'node:http';
import type passport from 'passport';
import { OAuthErrors } from './errors.js';

/** How a strategy ended: it redirected to the provider, signed someone in, or failed without an error. */
export type StrategyOutcome =
  | { readonly kind: 'redirect'; readonly url: string }
  | { readonly kind: 'success'; readonly user: unknown; readonly info: unknown }
  | { readonly kind: 'fail'; readonly challenge: unknown };

/** Options of {@link runStrategy}. */
export interface RunStrategyOptions {
  readonly passport: passport.Authenticator;
  readonly strategy: string;
  /** The request as express hands it (passport reads `query`, `headers`, `url`). */
  readonly req: IncomingMessage;
  /** passport's `state` option: handed to the state store when a sign-in starts. */
  readonly state?: object;
  /** Longest wait for the strategy (its calls to the provider) before GANTRY_OAUTH_EXCHANGE_FAILED. */
  readonly timeoutMs: number;
}

/**
 * Runs a passport strategy with `session: false` and a custom callback, and turns its outcome into a
 * value. The strategy never writes the response: its redirect is captured (passport would end the
 * response itself), so the route sets the status, the Location and its own cookie in one place.
 * Errors reject the promise as thrown by the strategy; the route decides what they mean.
 */
export function runStrategy(options: RunStrategyOptions): Promise<StrategyOutcome> {
  return new Promise<StrategyOutcome>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(
      () =>
        settle(() =>
          reject(
            OAuthErrors.EXCHANGE_FAILED(
              `provider "${options.strategy}" did not answer within ${options.timeoutMs} ms`,
              { details: { provider: options.strategy } },
            ),
          ),
        ),
      options.timeoutMs,
    );
    // What passport's redirect action touches on a response: status, Location, Content-Length, end.
    let location = '';
    const capture = {
      statusCode: 302,
      setHeader(name: string, value: unknown) {
        if (name.toLowerCase() === 'location') location = String(value);
      },
      end() {
        settle(() => resolve({ kind: 'redirect', url: location }));
      },
    };
    // passport's types say `state` is a string; passport-oauth2 hands an object state to its state store as is.
    const authenticateOptions = {
      session: false,
      ...(options.state ? { state: options.state } : {}),
    } as unknown as passport.AuthenticateOptions;
    const middleware = options.passport.authenticate(
      options.strategy,
      authenticateOptions,
      (err: unknown, user: unknown, info: unknown) => {
        if (err) settle(() => reject(err));
        else if (user) settle(() => resolve({ kind: 'success', user, info }));
        else settle(() => resolve({ kind: 'fail', challenge: info }));
      },
    ) as (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
    try {
      middleware(options.req, capture as unknown as ServerResponse, (err?: unknown) =>
        settle(() =>
          reject(
            err ??
              OAuthErrors.EXCHANGE_FAILED(`the strategy of provider "${options.strategy}" passed without a result`),
          ),
        ),
      );
    } catch (err) {
      settle(() => reject(err));
    }
  });
}
