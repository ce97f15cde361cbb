import { createHash } from 'node:crypto';
import type { Database } from '@gantry/plugin-database';
import type { LoginMode } from '@gantry/plugin-users';
import { newRandomValue, RANDOM_VALUE } from './binding-cookie.js';
import { OAuthStateEntity } from './entity.js';

/** What a started sign-in remembers until its callback. */
export interface PendingSignIn {
  readonly provider: string;
  readonly mode: LoginMode;
  readonly codeVerifier: string;
  /** Expected ID token nonce (OIDC providers only). */
  readonly nonce: string | undefined;
}

/** What the start of a sign-in hands to {@link StateStore.create}. */
export interface NewSignIn extends PendingSignIn {
  /** The browser binding (cookie value) the callback must present again. */
  readonly binding: string;
}

/** Options of {@link StateStore}. */
export interface StateStoreOptions {
  readonly db: Database;
  readonly ttlSeconds: number;
}

/** How often expired rows are swept, at most (on a start, never by a timer). */
const SWEEP_INTERVAL_MS = 60_000;

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/**
 * Server-side sign-in state in the database, so any instance can finish a sign-in another one started.
 * Only SHA-256 hashes of the state and of the browser binding are stored. A state works once: the
 * callback deletes its row with one conditional DELETE, so two concurrent callbacks cannot both win.
 */
export class StateStore {
  private lastSweep = 0;

  constructor(private readonly options: StateStoreOptions) {}

  /** Stores a started sign-in and returns its `state` (256 random bits, base64url). */
  async create(input: NewSignIn): Promise<string> {
    const state = newRandomValue();
    const now = new Date();
    const em = this.options.db.em();
    await em.insert(OAuthStateEntity, {
      stateHash: sha256(state),
      bindingHash: sha256(input.binding),
      provider: input.provider,
      mode: input.mode,
      codeVerifier: input.codeVerifier,
      nonce: input.nonce ?? null,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.options.ttlSeconds * 1000),
    });
    if (now.getTime() - this.lastSweep >= SWEEP_INTERVAL_MS) {
      this.lastSweep = now.getTime();
      await em.nativeDelete(OAuthStateEntity, { expiresAt: { $lt: now } });
    }
    return state;
  }

  /**
   * Takes the sign-in that `state` names, if it was started by `provider` in the browser holding `binding`
   * and has not expired nor been used; undefined otherwise. Either way a matching row is gone after.
   */
  async consume(input: {
    readonly provider: string;
    readonly state: string;
    readonly binding: string;
  }): Promise<PendingSignIn | undefined> {
    if (!RANDOM_VALUE.test(input.state) || !RANDOM_VALUE.test(input.binding)) return undefined;
    const em = this.options.db.em();
    const stateHash = sha256(input.state);
    const row = await em.findOne(
      OAuthStateEntity,
      { stateHash, provider: input.provider, bindingHash: sha256(input.binding) },
      { disableIdentityMap: true },
    );
    if (!row) return undefined;
    // The DELETE decides who wins a race between two callbacks with the same state.
    if ((await em.nativeDelete(OAuthStateEntity, { stateHash })) !== 1) return undefined;
    if (new Date(row.expiresAt).getTime() <= Date.now()) return undefined;
    return {
      provider: row.provider,
      mode: row.mode as LoginMode,
      codeVerifier: row.codeVerifier,
      nonce: row.nonce ?? undefined,
    };
  }
}
