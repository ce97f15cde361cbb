import { expect } from 'chai';
import {
  CoreErrors,
  defineErrors,
  formatBootError,
  GantryError,
  registeredErrorCodes,
  serializeError,
  withFix,
} from '../src/index.js';

describe('errors', () => {
  it('defineErrors makes GANTRY_<OWNER>_<REASON> codes whose factories carry status, title and fix', () => {
    const errors = defineErrors('coretest-limits', {
      TOO_MANY: { status: 429, title: 'Too many requests', fix: 'slow down' },
    });
    expect(errors.TOO_MANY.code).to.equal('GANTRY_CORETEST_LIMITS_TOO_MANY');
    const cause = new Error('bucket empty');
    const err = errors.TOO_MANY('client 1.2.3.4 sent too many requests', {
      details: { limit: 10 },
      headers: { 'Retry-After': '5' },
      cause,
    });
    expect(err).to.be.instanceOf(GantryError).and.instanceOf(Error);
    expect(err.name).to.equal('GantryError');
    expect(err.code).to.equal('GANTRY_CORETEST_LIMITS_TOO_MANY');
    expect(err.status).to.equal(429);
    expect(err.title).to.equal('Too many requests');
    expect(err.fix).to.equal('slow down');
    expect(err.details).to.deep.equal({ limit: 10 });
    expect(err.headers).to.deep.equal({ 'Retry-After': '5' });
    expect(err.cause).to.equal(cause);
    expect(errors.TOO_MANY.is(err)).to.equal(true);
    expect(CoreErrors.CONFLICT.is(err)).to.equal(false);
    expect(errors.TOO_MANY('x', { fix: 'other fix' }).fix).to.equal('other fix');
    expect(registeredErrorCodes().find((c) => c.code === 'GANTRY_CORETEST_LIMITS_TOO_MANY')?.owner).to.equal(
      'coretest-limits',
    );
  });

  it('a 4xx carries no stack frames and a 5xx does; the global stack limit is left as it was', () => {
    const errors = defineErrors('coretest-stacks', {
      GONE: { status: 404, title: 'Not found' },
      BROKEN: { status: 503, title: 'Unavailable' },
    });
    const before = Error.stackTraceLimit;
    const gone = errors.GONE('no such note');
    expect(gone.stack).to.equal('GantryError: no such note');
    expect(errors.BROKEN('database down').stack).to.match(/^GantryError: database down\n\s+at /);
    expect(Error.stackTraceLimit).to.equal(before);
    expect(new Error('plain').stack).to.match(/\n\s+at /);
  });

  it('refuses a code declared twice, across packages too', () => {
    defineErrors('coretest-dup', { TAKEN: { status: 409, title: 'Taken' } });
    expect(() => defineErrors('coretest-dup', { TAKEN: { status: 409, title: 'Taken again' } })).to.throw(
      TypeError,
      'Error code "GANTRY_CORETEST_DUP_TAKEN" is declared twice (by "coretest-dup" and "coretest-dup")',
    );
    // A plugin cannot reuse a core code through a look-alike owner name.
    expect(() => defineErrors('CORE', { BOOT_INVALID: { status: 500, title: 'x' } })).to.throw(
      TypeError,
      'declared twice (by "core" and "CORE")',
    );
  });

  it('refuses a reason that is not upper snake case', () => {
    expect(() => defineErrors('coretest-shape', { notUpper: { status: 400, title: 'x' } } as never)).to.throw(
      TypeError,
      'Error code "GANTRY_CORETEST_SHAPE_notUpper" is not of the form GANTRY_<OWNER>_<REASON>',
    );
  });

  it('GantryError.is recognises copies from a duplicated package by name and code', () => {
    const foreign = Object.assign(new Error('from another copy'), { name: 'GantryError', code: 'GANTRY_X_Y' });
    expect(GantryError.is(foreign)).to.equal(true);
    expect(GantryError.is(new Error('plain'))).to.equal(false);
    expect(GantryError.is({ name: 'GantryError', code: 'X' })).to.equal(false);
  });

  it('every core code is unique, well formed, an error status and titled', () => {
    const core = registeredErrorCodes().filter((c) => c.owner === 'core');
    expect(core.map((c) => c.code)).to.have.members(Object.values(CoreErrors).map((f) => f.code));
    for (const { code, spec } of core) {
      expect(code).to.match(/^GANTRY_CORE_[A-Z0-9]+(_[A-Z0-9]+)*$/);
      expect(spec.status, code).to.be.within(400, 599);
      expect(spec.title, code).to.be.a('string').and.not.equal('');
    }
  });

  it('formatBootError prints the code, every problem, the fix and the causes', () => {
    const err = CoreErrors.BOOT_INVALID('the application cannot start: 2 problems\n  - a\n  - b', {
      cause: new Error('outer', { cause: new Error('inner') }),
    });
    expect(formatBootError(err)).to.equal(
      '[GANTRY_CORE_BOOT_INVALID] the application cannot start: 2 problems\n  - a\n  - b\nFix: correct every problem listed, then start again\ncaused by: outer\ncaused by: inner',
    );
    expect(formatBootError(new TypeError('oops'))).to.match(
      /^unexpected error during boot: \{\n {2}"type": "TypeError",\n {2}"message": "oops"/,
    );
    const unreachable = CoreErrors.CONFIG_SOURCE_FAILED('consul at 127.0.0.1:8500 refused the connection');
    const again = CoreErrors.CONFIG_SOURCE_FAILED('second attempt refused', { cause: unreachable });
    const boot = CoreErrors.BOOT_INVALID('the application cannot start: 1 problem', { cause: again });
    const out = formatBootError(boot).split('\n');
    expect(out).to.deep.equal([
      '[GANTRY_CORE_BOOT_INVALID] the application cannot start: 1 problem',
      'Fix: correct every problem listed, then start again',
      'caused by: [GANTRY_CORE_CONFIG_SOURCE_FAILED] second attempt refused',
      `  Fix: ${again.fix}`,
      'caused by: [GANTRY_CORE_CONFIG_SOURCE_FAILED] consul at 127.0.0.1:8500 refused the connection',
    ]);
    expect(withFix('it broke', 'fix it')).to.equal('it broke. Fix: fix it');
    expect(withFix('it broke', undefined)).to.equal('it broke');
  });

  it('serializeError keeps code, details and the cause chain for logs', () => {
    const err = CoreErrors.CONFLICT('already exists', { details: { id: 7 }, cause: 'db said no' });
    const s = serializeError(err);
    expect(s).to.include({ type: 'GantryError', message: 'already exists', code: 'GANTRY_CORE_CONFLICT' });
    expect(s.details).to.deep.equal({ id: 7 });
    expect(s.cause).to.deep.equal({ message: 'db said no' });
    expect(s.stack).to.be.a('string');
  });
});
