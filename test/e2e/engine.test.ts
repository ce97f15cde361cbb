// The suites run on the engine they are asked for: GANTRY_HTTP__ENGINE (the fastify suite sets
// "fastify") reaches the sandbox's kernels; unset, the http plugin serves on express.
import { HttpServerToken } from '@gantry/http';
import { expect } from 'chai';
import { bootSandboxKernel } from '../support/sandbox-kernel.js';

describe('sandbox: the HTTP engine under test', function () {
  this.timeout(30_000);

  it('serves on the engine GANTRY_HTTP__ENGINE names (express when unset)', async () => {
    const sandbox = await bootSandboxKernel();
    try {
      const expected = process.env.GANTRY_HTTP__ENGINE || 'express';
      expect(sandbox.kernel.container.get(HttpServerToken).engine).to.equal(expected);
      const res = await sandbox.inject({ method: 'GET', url: '/healthz' });
      expect(res.statusCode).to.equal(200);
      expect(res.headers['x-powered-by']).to.equal(undefined);
    } finally {
      await sandbox.stop();
    }
  });
});
