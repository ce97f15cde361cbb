// The sandbox (its own gantry.config.json, embedded profile, its own SQLite file) listening on a free
// port, for test/bench/logging.bench.ts. With BENCH_ELK_PORT set, elk-logger is enabled on top of it
// and ships every line (one access line per request) to a TCP json_lines sink on that port; without
// it, the sandbox keeps its default logger (pino at LOG_LEVEL). rate-limit is off in both, so the
// load is never answered 429. Sends `{ port, token }` over IPC: the access token of a verified account.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createKernel, type Kernel } from '@gantry/core';
import { HttpServerToken } from '@gantry/http';
import { AuthJwtToken } from '@gantry/plugin-auth-jwt';
import { UsersToken } from '@gantry/plugin-users';
import { repo } from '../../support/sandbox-process.js';
import { sandboxPorts } from '../../support/sandbox-ports.js';

const sandboxDir = path.join(repo, 'sandbox');
const dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-bench-logging-'));
const config = JSON.parse(readFileSync(path.join(sandboxDir, 'gantry.config.json'), 'utf8')) as {
  plugins: Record<string, unknown>;
};
config.plugins['rate-limit'] = false;
const sinkPort = process.env.BENCH_ELK_PORT;
if (sinkPort)
  config.plugins['elk-logger'] = {
    console: { enabled: false },
    logstash: { enabled: true, host: '127.0.0.1', port: Number(sinkPort) },
  };
// Next to the sandbox's own file: its relative plugin paths resolve from the config file's folder.
const configFile = path.join(sandboxDir, `.bench-logging-${process.pid}.config.json`);
writeFileSync(configFile, JSON.stringify(config));
const { env: ports } = await sandboxPorts();
let kernel: Kernel;
try {
  kernel = await createKernel({
    appDir: sandboxDir,
    configFile,
    env: {
      ...process.env,
      ...ports,
      GANTRY_PROFILE: 'embedded',
      GANTRY_HTTP__PORT: ports.PORT!,
      LOG_LEVEL: 'info',
      GANTRY_DATABASE__DB_NAME: path.join(dir, 'data.sqlite'),
      GANTRY_MAILER__OUT_DIR: path.join(dir, 'mail'),
    },
  });
} finally {
  rmSync(configFile, { force: true });
}
kernel.handleSignals((code) => {
  rmSync(dir, { recursive: true, force: true });
  process.exit(code);
});
await kernel.start();
const { user } = await kernel
  .get(UsersToken)
  .ensureAccount({ email: 'bench@example.com', password: 'Correct-Horse-Battery-9', name: 'bench', roles: [] });
const { accessToken } = await kernel.get(AuthJwtToken).issuePair(user.id);
process.send?.({ port: kernel.get(HttpServerToken).address()?.port ?? 0, token: accessToken });
