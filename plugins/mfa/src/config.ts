import { z } from 'zod';
import { KEY_FORMAT } from './secret-box.js';

/** Options of the `mfa` plugin (config key `mfa`, env `GANTRY_MFA__<KEY>`). */
export const mfaConfigSchema = z
  .object({
    encryptionKey: z
      .string()
      .regex(KEY_FORMAT, 'must be 32 random bytes as 64 hex digits or base64 (e.g. `openssl rand -base64 32`)')
      .optional()
      .describe(
        'AES-256-GCM key that encrypts TOTP secrets at rest (a secret, no default): 32 random bytes as 64 hex digits or base64. Required outside the embedded profile; in embedded, when absent, one is generated once into <appDir>/var/mfa.key (mode 0600). Changing it makes every enrolled secret and recovery code unusable',
      ),
    issuer: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[^:\u0000-\u001f\u007f]+$/, 'must not contain ":" or control characters')
      .default('Gantry')
      .describe('Service name shown by authenticator apps next to the account (the issuer of the otpauth:// URL)'),
    challengeTtlSeconds: z
      .number()
      .int()
      .min(60)
      .max(900)
      .default(300)
      .describe('How long the mfaToken returned by a sign-in stays usable for POST /auth/mfa/verify (single use)'),
    maxAttempts: z
      .number()
      .int()
      .min(3)
      .max(20)
      .default(5)
      .describe(
        "Consecutive wrong codes (sign-in or disable) after which the account's MFA is locked; a correct code resets the count",
      ),
    lockSeconds: z
      .number()
      .int()
      .min(60)
      .max(86_400)
      .default(900)
      .describe(
        'How long a lock lasts: every code, even a correct one, is refused with 429 GANTRY_MFA_LOCKED until it ends (default 15 min)',
      ),
  })
  .strict();

/** Validated options of the `mfa` plugin. */
export type MfaConfig = z.output<typeof mfaConfigSchema>;

/** Options of the `mfa` plugin as written in the config file. */
export type MfaOptions = z.input<typeof mfaConfigSchema>;
