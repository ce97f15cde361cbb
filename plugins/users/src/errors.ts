import { defineErrors } from '@gantry/core';

/** Error registry of the `users` plugin (codes `GANTRY_USERS_<REASON>`). */
export const UsersErrors = defineErrors('users', {
  INVALID_CREDENTIALS: {
    status: 401,
    title: 'Invalid email or password',
    fix: 'check the email and password; after several failures wait for the rate limit window',
  },
  EMAIL_NOT_VERIFIED: {
    status: 403,
    title: 'Email address not verified',
    fix: 'open the link in the verification mail, then sign in again',
  },
  ACCOUNT_DISABLED: { status: 403, title: 'Account disabled', fix: 'contact an administrator' },
  PASSWORD_WEAK: {
    status: 400,
    title: 'Password refused',
    fix: 'choose 8 to 128 characters that are not a commonly used password nor your email address',
  },
  TOKEN_INVALID: {
    status: 400,
    title: 'Link invalid or expired',
    fix: 'ask for a new mail: links work once and expire',
  },
  CURRENT_PASSWORD_WRONG: {
    status: 403,
    title: 'Current password is wrong',
    fix: 'give the current password of the account',
  },
  NOT_FOUND: { status: 404, title: 'User not found', fix: 'check the user id (GET /api/v1/users lists them)' },
  EMAIL_TAKEN: { status: 409, title: 'Email address already used', fix: 'choose another email address' },
  SELF_ACTION: {
    status: 409,
    title: 'Not on your own account',
    fix: 'ask another administrator to disable or delete your account',
  },
  SESSIONS_DISABLED: {
    status: 400,
    title: 'Cookie sessions are not enabled',
    fix: 'omit "session": true (use the tokens), or enable the sessions-redis plugin',
  },
  INVALID_CURSOR: {
    status: 400,
    title: 'Invalid cursor',
    fix: 'pass the nextCursor value of the previous page unchanged',
  },
  SIGNUP_CLOSED: { status: 403, title: 'Sign-up is closed', fix: 'ask an administrator to create the account' },
  PASSWORD_LIST_MISSING: {
    status: 500,
    title: 'Common-password list not found',
    fix: 'reinstall @gantry/plugin-users: its data/common-passwords.txt is missing',
  },
  UNAVAILABLE: {
    status: 503,
    title: 'Accounts unavailable',
    fix: 'retry later; operators: check the database (see /readyz)',
  },
});
