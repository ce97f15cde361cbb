import { defineErrors } from '@gantry/core';

/** Error registry of the `{{name}}` plugin. Codes are stable; retired ones are never reused. */
export const {{Name}}Errors = defineErrors('{{name}}', {
  NAME_INVALID: { status: 400, title: 'Name cannot be greeted', fix: 'send a name of 1 to 100 printable characters' },
});
