// The sandbox's whole plugin set in this process (embedded profile, its own SQLite file and mail
// folder, no socket): for suites that call every route many times, in-process.
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createKernel, silentLogger, type Kernel } from '@gantry/core';
import { HttpServerToken } from '@gantry/http';
import { AuthJwtToken } from '@gantry/plugin-auth-jwt';
import { UsersToken } from '@gantry/plugin-users';
import { engineUnderTest, isolatedDispatch } from '@gantry/testing';
import { inject, type InjectOptions, type Response } from 'light-my-request';
import { freePort } from './sandbox-ports.js';
import { repo } from './sandbox-process.js';

/** A started in-process sandbox. */
export interface SandboxKernel {
  readonly kernel: Kernel;
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  inject(options: InjectOptions): Promise<Response>;
  /** An access token of a verified account with these roles (created on first use), minted directly. */
  tokenFor(email: string, roles: readonly string[]): Promise<{ id: string; token: string }>;
  stop(): Promise<void>;
}

/** Boots the sandbox in-process. `env` adds variables (GANTRY_* overrides) to its own. */
export async function bootSandboxKernel(env: Record<string, string> = {}): Promise<SandboxKernel> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-sandbox-kernel-'));
  const kernel = await createKernel({
    appDir: path.join(repo, 'sandbox'),
    env: {
      GANTRY_PROFILE: 'embedded',
      DEV_IDP_PORT: String(await freePort()),
      GANTRY_HTTP__LISTEN: 'false',
      GANTRY_DATABASE__DB_NAME: path.join(dir, 'data.sqlite'),
      GANTRY_MAILER__OUT_DIR: path.join(dir, 'mail'),
      ...engineUnderTest(),
      ...env,
    },
    logger: silentLogger(),
  });
  await kernel.start();
  const handler = kernel.container.get(HttpServerToken).handler();
  // Never the express app itself: light-my-request would re-parent express's shared prototypes and
  // break every real server later in the same process (websocket, graphql suites on real sockets).
  const dispatch = isolatedDispatch(handler);
  return {
    kernel,
    handler,
    inject: (options) => inject(dispatch, options),
    async tokenFor(email, roles) {
      const { user } = await kernel.container
        .get(UsersToken)
        .ensureAccount({ email, password: 'Correct-Horse-Battery-9', name: email.split('@')[0]!, roles });
      return { id: user.id, token: (await kernel.container.get(AuthJwtToken).issuePair(user.id)).accessToken };
    },
    async stop() {
      await kernel.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
