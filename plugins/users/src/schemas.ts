import { z } from 'zod';

/** Control characters (C0, DEL, C1) and Unicode line/paragraph separators: refused in names and emails. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** An email address as typed: no surrounding spaces, no control characters, at most 254 characters. */
export const email = z
  .string()
  .max(254)
  .refine((v) => !CONTROL.test(v), 'must not contain control characters')
  .pipe(z.email({ message: 'must be an email address' }));

/** A display name: 1 to 100 characters, any script, no control characters. */
export const name = z
  .string()
  .min(1)
  .max(100)
  .refine((v) => !CONTROL.test(v), 'must not contain control characters')
  .refine((v) => v.trim().length > 0, 'must not be blank');

/** A password as sent; length in code points and the common list are checked by the policy (400 GANTRY_USERS_PASSWORD_WEAK). */
export const password = z.string().min(1).max(512);

/** A mailed token. */
export const mailedToken = z.string().min(1).max(200);

export const signupBody = z.object({ email, password, name }).strict();
export const loginBody = z.object({ email, password, session: z.boolean().optional() }).strict();
export const tokenBody = z.object({ token: mailedToken }).strict();
export const refreshBody = z.object({ refreshToken: z.string().min(1).max(8192) }).strict();
export const forgotBody = z.object({ email }).strict();
export const resetBody = z.object({ token: mailedToken, password }).strict();
export const changePasswordBody = z.object({ currentPassword: password, newPassword: password }).strict();
export const patchMeBody = z.object({ name }).strict();
// UUIDs are case-insensitive on input (RFC 9562 §4) and stored lower-case: normalised, never a 404 for upper case.
export const idParams = z.object({ id: z.uuid({ message: 'must be a user id (UUID)' }).toLowerCase() }).strict();
export const createUserBody = z
  .object({ email, password: password.optional(), name, roles: z.array(z.string().min(1).max(48)).max(20).optional(), emailVerified: z.boolean().optional() })
  .strict();
export const patchUserBody = z
  .object({ name: name.optional(), status: z.enum(['active', 'disabled']).optional(), emailVerified: z.boolean().optional() })
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'give at least one of name, status, emailVerified');
export const rolesBody = z.object({ roles: z.array(z.string().min(1).max(48)).max(20) }).strict();
export const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).optional(),
    cursor: z.string().regex(/^[A-Za-z0-9_-]{1,200}$/).optional(),
    email: z.string().max(254).optional(),
    status: z.enum(['active', 'disabled']).optional(),
  })
  .strict();
