import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { KERNEL_VERSION, packageVersion, token, tokenName } from '../src/index.js';
import { kernelOf, plugin, tempDir } from './helpers.js';

describe('tokens and versions', () => {
  it('a token is keyed by its name: a consumer declaring it gets the provider’s token without importing its package', async () => {
    const provided = token<string>('test.token.Shared');
    // What an optional collaborator does: declare the token by name instead of importing the provider.
    const declared = token<string>('test.token.Shared');
    expect(declared).to.equal(provided);
    expect(tokenName(declared)).to.equal('test.token.Shared');
    expect(token('test.token.Other')).to.not.equal(provided);

    let seen: string | undefined;
    const provider = plugin('provider', {
      provides: [provided],
      register: (ctx) => ctx.provide(provided, 'from the provider'),
    });
    const consumer = plugin('consumer', {
      optionalDependsOn: ['provider'],
      register: (ctx) => void (seen = ctx.container.tryGet(declared)),
    });
    await using kernel = await kernelOf([provider, consumer]);
    await kernel.start();
    expect(seen).to.equal('from the provider');
    expect(kernel.get(declared)).to.equal('from the provider');
  });

  it('KERNEL_VERSION is @gantry/core’s package.json version, not a constant kept by hand', () => {
    const pkgFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../package.json');
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { name: string; version: string };
    expect(pkg.name).to.equal('@gantry/core');
    expect(KERNEL_VERSION).to.equal(pkg.version);
  });

  it('packageVersion reads the nearest package.json that names a package, skipping nameless ones', () => {
    const tmp = tempDir();
    try {
      tmp.write('package.json', JSON.stringify({ name: 'outer', version: '3.2.1' }));
      tmp.write('dist/package.json', JSON.stringify({ type: 'module' }));
      mkdirSync(path.join(tmp.dir, 'dist/src'), { recursive: true });
      writeFileSync(path.join(tmp.dir, 'dist/src/plugin.js'), '');
      expect(packageVersion(pathToFileURL(path.join(tmp.dir, 'dist/src/plugin.js')).href)).to.equal('3.2.1');
    } finally {
      tmp.remove();
    }
  });
});
