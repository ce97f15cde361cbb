import { patchSchema } from '@gantry/core';
import { z } from 'zod';

/** Control characters (C0, DEL, C1) and Unicode line/paragraph separators: refused in names and emails. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** An email address as typed: no surrounding spaces, no control characters, at most 254 characters. */
export const email = z
  .string()
  .max(254)
  .refine((v) => !CONTROL.test(v), 'must not contain control characters')
  .pipe(z.email({ message: 'must be an email address' }));

/**
 * Bidirectional formatting characters (embeddings, overrides, isolates, marks): they reorder how the
 * text around a name is shown ("Trojan Source"), in admin lists, audit views and mails alike.
 */
const BIDI_CONTROL = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/**
 * What shows nothing on its own: white space, Unicode's default-ignorable code points (zero-width
 * space and joiners, word joiner, BOM, variation selectors, the Hangul fillers U+115F, U+1160, U+3164,
 * U+FFA0, ...) and the blank Braille pattern U+2800, which renders as an empty cell.
 */
const INVISIBLE = /[\p{White_Space}\p{Default_Ignorable_Code_Point}\u2800]/gu;

/**
 * A display name: 1 to 100 characters, any script; no control characters, no bidi controls, and at
 * least one visible character (joiners and selectors stay allowed inside a name, e.g. in emoji sequences).
 */
export const name = z
  .string()
  .min(1)
  .max(100)
  .refine((v) => !CONTROL.test(v), 'must not contain control characters')
  .refine(
    (v) => !BIDI_CONTROL.test(v),
    'must not contain bidirectional controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069)',
  )
  .refine(
    (v) => v.replace(INVISIBLE, '').length > 0,
    'must contain a visible character, not only white space and invisible ones',
  );

/**
 * A password as sent; length in code points and the common list are checked by the policy (400
 * GANTRY_USERS_PASSWORD_WEAK). Ill-formed UTF-16 is refused: a lone surrogate has no UTF-8 form and
 * would be hashed as U+FFFD, so "\ud800" and "\udfff" would be the same password. (The http layer
 * refuses lone surrogates in every field already; this schema says it wherever a password is parsed.)
 */
export const password = z
  .string()
  .min(1)
  .max(512)
  .refine(
    (v) => v.isWellFormed(),
    'must be well-formed Unicode: a lone surrogate (U+D800-U+DFFF without its pair) is not a character',
  );

/** A mailed token. */
export const mailedToken = z.string().min(1).max(200);

export const signupBody = z.object({ email, password, name }).strict();
export const loginBody = z.object({ email, password, session: z.boolean().optional() }).strict();
export const tokenBody = z.object({ token: mailedToken }).strict();
export const refreshBody = z.object({ refreshToken: z.string().min(1).max(8192) }).strict();
export const forgotBody = z.object({ email }).strict();
export const resetBody = z.object({ token: mailedToken, password }).strict();
export const changePasswordBody = z.object({ currentPassword: password, newPassword: password }).strict();
// PATCH bodies: only the fields sent change (no default applies), and `{}` is refused.
export const patchMeBody = patchSchema(z.object({ name }));
// UUIDs are case-insensitive on input (RFC 9562 §4) and stored lower-case: normalised, never a 404 for upper case.
export const idParams = z.object({ id: z.uuid({ message: 'must be a user id (UUID)' }).toLowerCase() }).strict();
export const createUserBody = z
  .object({
    email,
    password: password.optional(),
    name,
    roles: z.array(z.string().min(1).max(48)).max(20).optional(),
    emailVerified: z.boolean().optional(),
  })
  .strict();
export const patchUserBody = patchSchema(
  z.object({ name, status: z.enum(['active', 'disabled']), emailVerified: z.boolean() }),
);
export const rolesBody = z.object({ roles: z.array(z.string().min(1).max(48)).max(20) }).strict();
export const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).optional(),
    cursor: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,200}$/)
      .optional(),
    email: z.string().max(254).optional(),
    status: z.enum(['active', 'disabled']).optional(),
  })
  .strict();
