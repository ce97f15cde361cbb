import { defineErrors } from '@gantry/core';

/** Error registry of @gantry/testing (codes `GANTRY_TESTING_<REASON>`). Retired codes are never reused. */
export const TestingErrors = defineErrors('testing', {
  REPLACE_UNPROVIDED: {
    status: 500,
    title: 'Replaced token is not provided',
    fix: 'replace a token that an enabled plugin lists in `provides` (check the spelling, or enable its plugin)',
  },
  REPLACE_TWICE: {
    status: 500,
    title: 'Token replaced twice',
    fix: 'give each token one replacement in `replace`',
  },
});
