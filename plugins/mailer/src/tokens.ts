import { token } from '@gantry/core';
import type { Mailer } from './mailer-service.js';

/** The kernel's mail service: templates, links under baseUrl, send(). */
export const MailerToken = token<Mailer>('gantry.mailer.Mailer');
