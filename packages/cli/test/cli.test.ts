import path from 'node:path';
import { expect } from 'chai';
import { CLI_VERSION, CliErrors } from '../src/index.js';
import { gantry, node, REPO, repoTemp } from './support.js';

const BIN = path.join(REPO, 'packages/cli/dist/src/bin.js');

describe('gantry command line', () => {
  it('prints help and its version with exit 0', async () => {
    const help = await gantry(['--help']);
    expect(help.code).to.equal(0);
    for (const cmd of ['new', 'doctor', 'config', 'plugins', 'routes'])
      expect(help.stdout).to.match(new RegExp(`^  ${cmd}\\b`, 'm'));
    const version = await gantry(['--version']);
    expect(version).to.deep.include({ code: 0, stdout: `${CLI_VERSION}\n` });
    const sub = await gantry(['config', 'print', '--help']);
    expect(sub.code).to.equal(0);
    expect(sub.stdout).to.include('--profile <name>').and.include('--json');
  });

  it('exits 2 on a command line it does not understand, naming the mistake', async () => {
    const unknown = await gantry(['rotues']);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.include("unknown command 'rotues'").and.include('Did you mean routes?');
    const missing = await gantry(['new', 'app']);
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.include("missing required argument 'dir'");
    const option = await gantry(['doctor', '--bogus']);
    expect(option.code).to.equal(2);
    expect(option.stderr).to.include("unknown option '--bogus'");
  });

  it('runs as an executable: --cwd relative to the current folder, GANTRY_* from the environment, the exit code of the command', async () => {
    const tmp = repoTemp('bin');
    try {
      tmp.write('app/gantry.config.json', JSON.stringify({ plugins: { http: {} } }));
      const ok = await node([BIN, 'config', 'check', '--cwd', 'app'], {
        cwd: tmp.dir,
        env: { PATH: process.env.PATH },
      });
      expect(ok.code, ok.stderr).to.equal(0);
      expect(ok.stdout).to.equal('gantry.config.json (profile embedded): OK, 1 plugins (http)\n');
      const bad = await node([BIN, 'config', 'check', '--cwd', 'app'], {
        cwd: tmp.dir,
        env: { PATH: process.env.PATH, GANTRY_HTTP__PORT: 'x' },
      });
      expect(bad.code).to.equal(1);
      expect(bad.stdout).to.include('GANTRY_HTTP__PORT: expected a number');
      const none = await node([BIN, 'routes'], { cwd: tmp.dir, env: { PATH: process.env.PATH } });
      expect(none.code).to.equal(1);
      expect(none.stderr).to.match(/^\[GANTRY_CORE_CONFIG_FILE_INVALID\] no config file in /);
    } finally {
      tmp.remove();
    }
  });
});

describe('CLI error registry', () => {
  it('declares GANTRY_CLI_* codes with an error status, a title and a fix each', () => {
    const factories = Object.values(CliErrors);
    expect(factories.length).to.be.greaterThan(5);
    for (const f of factories) {
      expect(f.code).to.match(/^GANTRY_CLI_[A-Z0-9]+(_[A-Z0-9]+)*$/);
      expect(f.spec.status, f.code).to.be.within(400, 599);
      expect(f.spec.title, f.code).to.be.a('string').and.not.equal('');
      expect(f.spec.fix, f.code).to.be.a('string').and.not.equal('');
    }
    expect(new Set(factories.map((f) => f.code)).size).to.equal(factories.length);
  });
});
