import { token } from '@gantry/core';
import type { Mailer } from './mailer-service.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { Mailer } from './mailer-service.js';

/** The kernel's mail service: templates, links under baseUrl, send(). */
export const MailerToken = token<Mailer>('gantry.mailer.Mailer');
