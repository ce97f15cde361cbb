// Walks the error registry of every package: codes are unique, well formed, owned by the package
// that declares them, and each maps to an HTTP error status with a title.
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { registeredErrorCodes } from '@gantry/core';
import { expect } from 'chai';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const pluginDirs = readdirSync(path.join(repo, 'plugins'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);

describe('error registry', () => {
  before(async () => {
    await import('@gantry/http');
    for (const dir of pluginDirs) await import(`@gantry/plugin-${dir}`);
  });

  it('every plugin has an errors.ts registry', () => {
    const missing = pluginDirs.filter((d) => !existsSync(path.join(repo, 'plugins', d, 'src', 'errors.ts')));
    expect(missing).to.deep.equal([]);
  });

  it('codes are unique and of the form GANTRY_<OWNER>_<REASON>', () => {
    const codes = registeredErrorCodes();
    expect(codes.length).to.be.greaterThan(20);
    const names = codes.map((c) => c.code);
    expect(new Set(names).size).to.equal(names.length);
    for (const { code, owner } of codes) {
      const prefix = `GANTRY_${owner.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_`;
      expect(code.startsWith(prefix), `${code} is not prefixed by its owner ${owner}`).to.equal(true);
      expect(code).to.match(/^GANTRY_[A-Z0-9]+(_[A-Z0-9]+)+$/);
    }
  });

  it('each plugin declares its codes under its own name', () => {
    const owners = new Set(registeredErrorCodes().map((c) => c.owner));
    for (const dir of pluginDirs) expect(owners.has(dir), `no codes owned by "${dir}"`).to.equal(true);
    expect(owners.has('core')).to.equal(true);
    expect(owners.has('http')).to.equal(true);
  });

  it('every code maps to an error status and has a title', () => {
    for (const { code, spec } of registeredErrorCodes()) {
      expect(spec.status, code).to.be.within(400, 599);
      expect(spec.title, code).to.be.a('string').and.not.equal('');
    }
  });
});
