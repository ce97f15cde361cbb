import type { IncomingMessage } from 'node:http';
import type { LoginMode } from '@gantry/plugin-users';
import { readBinding } from './binding-cookie.js';
import type { PendingSignIn, StateStore } from './state-store.js';

/** What the start route passes as passport's `state` option, and what the store receives back. */
export interface StartState {
  readonly binding: string;
  readonly mode: LoginMode;
}

/** Why a strategy failed without an error: the one reason is a state that does not check. */
export interface StateFailure {
  readonly reason: 'state-invalid';
}

/** The failure every strategy reports for a missing, unknown, expired, replayed or foreign state. */
export const STATE_INVALID: StateFailure = Object.freeze({ reason: 'state-invalid' });

type StoreCallback = (err: unknown, state?: string) => void;
type VerifyCallback = (err: unknown, verifier?: string | false, info?: PendingSignIn | StateFailure) => void;

/**
 * passport-oauth2's state store interface with PKCE, backed by the database {@link StateStore} instead
 * of express-session. passport-oauth2 picks the PKCE form by the arity of the methods: `store` must
 * declare five parameters and `verify` three, so neither may use defaults or rest parameters.
 */
export class PassportStateStore {
  constructor(
    private readonly provider: string,
    private readonly states: StateStore,
  ) {}

  /** Called when a sign-in starts: stores the PKCE verifier and returns the new `state`. */
  store(_req: IncomingMessage, verifier: string, state: StartState, _meta: unknown, callback: StoreCallback): void {
    deliver(
      this.states.create({
        provider: this.provider,
        mode: state.mode,
        codeVerifier: verifier,
        nonce: undefined,
        binding: state.binding,
      }),
      (err, value) => (err ? callback(err) : callback(null, value)),
    );
  }

  /** Called on the callback: consumes the state and hands passport the verifier (the third argument comes back as `info.state`). */
  verify(req: IncomingMessage, state: string, callback: VerifyCallback): void {
    const binding = readBinding(req.headers);
    if (binding === undefined || typeof state !== 'string') {
      callback(null, false, STATE_INVALID);
      return;
    }
    deliver(this.states.consume({ provider: this.provider, state, binding }), (err, pending) => {
      if (err) callback(err);
      else if (pending) callback(null, pending.codeVerifier, pending);
      else callback(null, false, STATE_INVALID);
    });
  }
}

/**
 * Hands a promise's outcome to a node-style callback. A throw from the callback itself (the strategy's
 * next step) is handed back to it as an error rather than left as an unhandled rejection.
 */
export function deliver<T>(work: Promise<T>, callback: (err: unknown, value?: T) => void): void {
  work
    .then(
      (value) => callback(null, value),
      (err: unknown) => callback(err),
    )
    .catch((err: unknown) => callback(err));
}
