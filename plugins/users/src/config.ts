import { z } from 'zod';

/** OWASP's argon2id baseline (Password Storage Cheat Sheet): 19 MiB, 2 iterations, 1 lane. */
export const OWASP_ARGON2 = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Options of the `users` plugin (config key `users`, env `GANTRY_USERS__<KEY>`). */
export const usersConfigSchema = z
  .object({
    argon2: z
      .object({
        memoryCost: z
          .number()
          .int()
          .min(OWASP_ARGON2.memoryCost)
          .max(4_194_304)
          .default(OWASP_ARGON2.memoryCost)
          .describe("argon2id memory in KiB (at least OWASP's 19456)"),
        timeCost: z
          .number()
          .int()
          .min(OWASP_ARGON2.timeCost)
          .max(20)
          .default(OWASP_ARGON2.timeCost)
          .describe('argon2id iterations (at least 2)'),
        parallelism: z.number().int().min(1).max(16).default(OWASP_ARGON2.parallelism).describe('argon2id lanes'),
      })
      .strict()
      .default(OWASP_ARGON2)
      .describe(
        "argon2id parameters; never below OWASP's baseline. Raising them rehashes each password at its next successful login",
      ),
    signup: z
      .boolean()
      .default(true)
      .describe('Whether POST /auth/signup is open (false: accounts are created by administrators only)'),
    requireVerifiedEmail: z
      .boolean()
      .default(true)
      .describe('Whether an account must verify its email address before it can sign in'),
    verifyTokenTtlSeconds: z
      .number()
      .int()
      .min(300)
      .max(604_800)
      .default(86_400)
      .describe('How long an email verification link works (default 24 h)'),
    resetTokenTtlSeconds: z
      .number()
      .int()
      .min(300)
      .max(86_400)
      .default(3_600)
      .describe('How long a password reset link works (default 1 h)'),
    newLoginNotice: z
      .boolean()
      .default(true)
      .describe('Whether each sign-in sends the account a "new sign-in" mail (time, IP, user agent)'),
    verifyPath: z
      .string()
      .regex(/^\/[A-Za-z0-9\-._~/]*$/)
      .default('/verify-email')
      .describe(
        "Path of the verification link under the mailer's baseUrl (the front-end page that POSTs the token to /auth/verify-email)",
      ),
    resetPath: z
      .string()
      .regex(/^\/[A-Za-z0-9\-._~/]*$/)
      .default('/reset-password')
      .describe(
        "Path of the reset link under the mailer's baseUrl (the front-end page that POSTs the token and new password to /auth/password/reset)",
      ),
    forgotPath: z
      .string()
      .regex(/^\/[A-Za-z0-9\-._~/]*$/)
      .default('/forgot-password')
      .describe(
        "Path under the mailer's baseUrl of the front-end page asking for a reset link (in the mail sent when someone signs up with a used address)",
      ),
  })
  .strict();

/** Validated options of the `users` plugin. */
export type UsersConfig = z.output<typeof usersConfigSchema>;
