import 'reflect-metadata';
import { container as tsyringeRoot, type DependencyContainer, type InjectionToken } from 'tsyringe';
import { CoreErrors } from './errors.js';
import { tokenName, type Token } from './token.js';

/** A class the container can build, its constructor parameters injected by token. */
export type Constructor<T> = new (...args: never[]) => T;

/**
 * The kernel's dependency container: a small interface in front of tsyringe so the implementation
 * could be swapped. Every kernel owns one child of tsyringe's root container and every plugin a
 * child of that; nothing is ever registered in tsyringe's global container.
 */
export interface Container {
  /** Binds a value. */
  bindValue<T>(token: Token<T>, value: T): void;
  /** Binds a factory, called once on first resolution (a lazy singleton). */
  bindFactory<T>(token: Token<T>, factory: (container: Container) => T): void;
  /** Binds a class, built once on first resolution with its `@inject(token)` parameters. */
  bindClass<T>(token: Token<T>, cls: Constructor<T>): void;
  /** Resolves a token; throws GANTRY_CORE_TOKEN_NOT_BOUND naming the token when nothing is bound. */
  get<T>(token: Token<T>): T;
  /** Resolves a token, or undefined when nothing is bound. */
  tryGet<T>(token: Token<T>): T | undefined;
  /** True when the token is bound here or in a parent. */
  has(token: Token<unknown>): boolean;
  /** Builds an instance of a class (not registered), injecting its constructor parameters. */
  construct<T>(cls: Constructor<T>): T;
  /** A child container: it sees its parents' bindings, its own stay private. */
  createChild(): Container;
  /** Disposes disposable singletons built by this container. */
  dispose(): Promise<void>;
}

/** tsyringe-backed implementation of {@link Container}. */
export class TsyringeContainer implements Container {
  private disposed = false;

  private constructor(
    private readonly inner: DependencyContainer,
    private readonly owner: string,
  ) {}

  /** A fresh root for one kernel: a child of tsyringe's root, never the root itself. */
  static createRoot(owner = 'kernel'): TsyringeContainer {
    return new TsyringeContainer(tsyringeRoot.createChildContainer(), owner);
  }

  bindValue<T>(token: Token<T>, value: T): void {
    this.inner.register(token as InjectionToken<T>, { useValue: value });
  }

  bindFactory<T>(token: Token<T>, factory: (container: Container) => T): void {
    let built = false;
    let instance: T;
    // tsyringe's instanceCachingFactory caches per container it is resolved from; we want one
    // instance per binding, so the cache lives in this closure.
    this.inner.register(token as InjectionToken<T>, {
      useFactory: () => {
        if (!built) {
          instance = factory(this);
          built = true;
        }
        return instance;
      },
    });
  }

  bindClass<T>(token: Token<T>, cls: Constructor<T>): void {
    this.bindFactory(token, (c) => c.construct(cls));
  }

  get<T>(token: Token<T>): T {
    this.assertNotDisposed(token);
    if (!this.inner.isRegistered(token as InjectionToken<T>, true)) {
      throw CoreErrors.TOKEN_NOT_BOUND(`${this.owner}: nothing is bound to token "${tokenName(token)}"`, {
        details: { token: tokenName(token), owner: this.owner },
      });
    }
    try {
      return this.inner.resolve(token as InjectionToken<T>);
    } catch (cause) {
      throw CoreErrors.TOKEN_NOT_BOUND(
        `${this.owner}: cannot resolve token "${tokenName(token)}": ${(cause as Error).message}`,
        { cause },
      );
    }
  }

  tryGet<T>(token: Token<T>): T | undefined {
    this.assertNotDisposed(token);
    return this.inner.isRegistered(token as InjectionToken<T>, true)
      ? this.inner.resolve(token as InjectionToken<T>)
      : undefined;
  }

  has(token: Token<unknown>): boolean {
    return this.inner.isRegistered(token as InjectionToken<unknown>, true);
  }

  construct<T>(cls: Constructor<T>): T {
    try {
      return this.inner.resolve(cls as unknown as InjectionToken<T>);
    } catch (cause) {
      // tsyringe's message already carries the dependency path ("Cannot inject ... at position #1 of ...").
      throw CoreErrors.TOKEN_NOT_BOUND(`${this.owner}: cannot construct ${cls.name}: ${(cause as Error).message}`, {
        cause,
      });
    }
  }

  createChild(owner = this.owner): Container {
    return new TsyringeContainer(this.inner.createChildContainer(), owner);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await this.inner.dispose();
  }

  /** tsyringe's own error here ("This container has been disposed") would name neither the token nor the cause. */
  private assertNotDisposed(token: Token<unknown>): void {
    if (this.disposed) {
      throw CoreErrors.KERNEL_STATE(
        `${this.owner}: cannot resolve token "${tokenName(token)}": the kernel has stopped`,
        { fix: 'resolve tokens while the kernel runs, before stop()' },
      );
    }
  }
}
