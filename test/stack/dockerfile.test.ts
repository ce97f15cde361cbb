// The Dockerfile read for the rules no linter here can check (hadolint is not on any reachable
// registry): multi-stage, production dependencies only, non-root, an init process, a health check.
import { existsSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import { repoPath } from './support.js';

const text = readFileSync(repoPath('Dockerfile'), 'utf8');
/** Instructions with continuation lines joined, comments dropped. */
const lines = text
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const stages = lines.filter((l) => /^FROM /i.test(l));
const finalStage = lines.slice(lines.lastIndexOf(stages.at(-1)!));

describe('Dockerfile', () => {
  it('is multi-stage, on a pinned base image', () => {
    expect(stages.length).to.be.at.least(2);
    const arg = /^ARG NODE_IMAGE=(\S+)$/m.exec(text)?.[1];
    expect(arg, 'NODE_IMAGE').to.match(/^node:\d+\.\d+\.\d+-alpine\d+\.\d+$/);
    for (const s of stages) expect(s).to.not.match(/:latest\b/);
  });

  it('installs production dependencies only in what the final stage copies', () => {
    const ci = lines.filter((l) => /npm ci/.test(l));
    expect(ci.some((l) => /--omit=dev/.test(l))).to.equal(true);
    expect(
      finalStage.some((l) => /npm (ci|install)/.test(l)),
      'no install in the final stage',
    ).to.equal(false);
    const copies = finalStage.filter((l) => /^COPY --from=/.test(l));
    expect(copies.length).to.be.at.least(1);
    for (const c of copies) expect(c, 'final stage copies from the prod-deps stage').to.match(/--from=prod-deps/);
  });

  it('runs as a non-root user under an init process, with SIGTERM reaching node', () => {
    const user = finalStage.filter((l) => /^USER /.test(l)).at(-1);
    expect(user).to.match(/^USER (node|[1-9]\d*)$/);
    const entry = finalStage.find((l) => /^ENTRYPOINT /.test(l));
    expect(entry).to.match(/tini|dumb-init/);
    expect(entry, 'exec form').to.match(/^ENTRYPOINT \[/);
    expect(
      finalStage.find((l) => /^CMD /.test(l)),
      'exec form, node directly',
    ).to.match(/^CMD \["node"/);
  });

  it('checks /healthz', () => {
    const hc = finalStage.find((l) => /^HEALTHCHECK /.test(l));
    expect(hc).to.match(/\/healthz/);
    expect(hc).to.match(/--interval=\d+s/);
  });

  it('has a .dockerignore keeping node_modules, dist, .git and env files out of the build context', () => {
    expect(existsSync(repoPath('.dockerignore'))).to.equal(true);
    const ignore = readFileSync(repoPath('.dockerignore'), 'utf8').split('\n');
    for (const p of ['**/node_modules', '**/dist', '.git', '**/.env']) expect(ignore, p).to.include(p);
  });
});
