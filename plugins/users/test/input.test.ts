// Input the schemas refuse with 400 before any work: passwords that are not well-formed Unicode, and
// display names that show nothing or reorder the text around them.
import { ADMIN_ROLE, RbacToken, USER_ROLE } from '@gantry/plugin-rbac';
import { expect } from 'chai';
import { UsersToken } from '../src/index.js';
import { bootStack, type Reply, type Stack } from './support/stack.js';

const PW = 'Correct-Horse-Battery-9';

/** 400 GANTRY_HTTP_VALIDATION naming `field` (and nothing else). */
function expectFieldError(res: Reply, field: string): void {
  expect(res.status, res.text).to.equal(400);
  expect(res.body.code).to.equal('GANTRY_HTTP_VALIDATION');
  const errors = res.body.errors as { in: string; field: string; message: string }[];
  expect(errors.map((e) => `${e.in}.${e.field}`)).to.deep.equal([`body.${field}`]);
}

describe('users: input refused by the schemas (400)', () => {
  let stack: Stack;
  beforeEach(async () => {
    stack = await bootStack();
  });
  afterEach(() => stack.stop());

  describe('passwords must be well-formed Unicode', () => {
    // "\ud800" and "\udfff" have no UTF-8 form: both would be hashed as U+FFFD, i.e. as one password.
    const lone = [`${PW}\ud800`, `${PW}\udfff`, `\udc00${PW}`, `${PW}\ud83d`];

    it('refuses a lone surrogate at sign-up, naming the field', async () => {
      for (const password of lone) {
        expectFieldError(
          await stack.call('POST', '/api/v1/auth/signup', {
            body: { email: 'lone@example.com', password, name: 'Lone' },
          }),
          'password',
        );
      }
      // A surrogate pair is a character like any other.
      expect(
        (
          await stack.call('POST', '/api/v1/auth/signup', {
            body: { email: 'pair@example.com', password: `${PW}\ud83d\ude00`, name: 'Pair' },
          })
        ).status,
      ).to.equal(201);
    });

    it('refuses a lone surrogate at sign-in, where another one would match', async () => {
      // An account whose password was set around the schema (seeding) with a lone surrogate in it.
      await stack.tk
        .get(UsersToken)
        .ensureAccount({ email: 'lone@example.com', password: `${PW}\ud800`, name: 'Lone', roles: [USER_ROLE] });
      for (const password of lone)
        expectFieldError(
          await stack.call('POST', '/api/v1/auth/login', { body: { email: 'lone@example.com', password } }),
          'password',
        );
    });

    it('refuses a lone surrogate in a reset and in both fields of a change', async () => {
      await stack.account('lone@example.com', PW);
      const { accessToken: token } = await stack.login('lone@example.com', PW);
      expectFieldError(
        await stack.call('POST', '/api/v1/auth/password/change', {
          token,
          body: { currentPassword: `${PW}\ud800`, newPassword: 'Another-Good-Pass-7' },
        }),
        'currentPassword',
      );
      expectFieldError(
        await stack.call('POST', '/api/v1/auth/password/change', {
          token,
          body: { currentPassword: PW, newPassword: `New-Good-Pass-7\udfff` },
        }),
        'newPassword',
      );
      expect(
        (await stack.call('POST', '/api/v1/auth/password/forgot', { body: { email: 'lone@example.com' } })).status,
      ).to.equal(202);
      const reset = await stack.mailedToken('lone@example.com', /Subject: Reset your password/);
      expectFieldError(
        await stack.call('POST', '/api/v1/auth/password/reset', {
          body: { token: reset, password: `New-Good-Pass-7\ud800` },
        }),
        'password',
      );
      // The refused attempts changed nothing: the link still works and the old password stood until then.
      expect(
        (
          await stack.call('POST', '/api/v1/auth/password/reset', {
            body: { token: reset, password: 'New-Good-Pass-7' },
          })
        ).status,
      ).to.equal(204);
    });
  });

  describe('display names', () => {
    const invisible = {
      'zero-width space': '\u200b',
      'zero-width joiner': '\u200d',
      'word joiner': '\u2060',
      'byte order mark': '\ufeff',
      'Hangul filler': '\u3164',
      'Hangul choseong filler': '\u115f',
      'Hangul jungseong filler': '\u1160',
      'halfwidth Hangul filler': '\uffa0',
      'soft hyphen': '\u00ad',
      'combining grapheme joiner': '\u034f',
      'Mongolian vowel separator': '\u180e',
      'variation selector 16': '\ufe0f',
      'no-break space': '\u00a0',
      'ideographic space': '\u3000',
      'blank Braille pattern': '\u2800',
      'a mix with spaces': ' \u200b\u3164 \ufeff\u2060 ',
    };
    const bidi = [
      '\u202a',
      '\u202b',
      '\u202c',
      '\u202d',
      '\u202e',
      '\u2066',
      '\u2067',
      '\u2068',
      '\u2069',
      '\u200e',
      '\u200f',
      '\u061c',
    ];

    it('refuses a name made only of white space and invisible characters', async () => {
      for (const [what, name] of Object.entries(invisible)) {
        const res = await stack.call('POST', '/api/v1/auth/signup', {
          body: { email: 'ghost@example.com', password: PW, name: name.repeat(3) },
        });
        expectFieldError(res, 'name');
        expect(res.body.errors[0].message, what).to.match(/visible character/);
      }
    });

    it('refuses bidirectional controls anywhere in a name', async () => {
      for (const control of bidi) {
        const res = await stack.call('POST', '/api/v1/auth/signup', {
          body: { email: 'bidi@example.com', password: PW, name: `Ann${control}gnp.exe` },
        });
        expectFieldError(res, 'name');
        expect(res.body.errors[0].message, `U+${control.codePointAt(0)!.toString(16)}`).to.match(/bidirectional/);
      }
    });

    it('applies to the own profile and to administration too, and keeps joiners inside visible names', async () => {
      const id = await stack.account('named@example.com', PW);
      await stack.tk.get(RbacToken).setRoles(id, [ADMIN_ROLE]);
      const { accessToken: token } = await stack.login('named@example.com', PW);
      expectFieldError(
        await stack.call('PATCH', '/api/v1/users/me', { token, body: { name: '\u3164\u3164' } }),
        'name',
      );
      expectFieldError(await stack.call('PATCH', '/api/v1/users/me', { token, body: { name: 'Eve\u202e' } }), 'name');
      const kept = await stack.call('PATCH', '/api/v1/users/me', {
        token,
        body: { name: 'Zo\u00eb \ud83d\udc69\u200d\ud83d\udcbb' },
      });
      expect(kept.status, kept.text).to.equal(200);
      expect(kept.body.name).to.equal('Zo\u00eb \ud83d\udc69\u200d\ud83d\udcbb');
      expectFieldError(await stack.call('PATCH', `/api/v1/users/${id}`, { token, body: { name: '\u200b' } }), 'name');
      expectFieldError(
        await stack.call('POST', '/api/v1/users', {
          token,
          body: { email: 'made@example.com', name: '\u2067Mallory', password: PW },
        }),
        'name',
      );
    });
  });
});
