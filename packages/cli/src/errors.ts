import { defineErrors } from '@gantry/core';

/** Error registry of @gantry/cli. Codes are stable; retired ones are never reused. */
export const CliErrors = defineErrors('cli', {
  USAGE: {
    status: 400,
    title: 'Command line is invalid',
    fix: 'run `gantry <command> --help` for its arguments and options',
  },
  NAME_INVALID: {
    status: 400,
    title: 'Name is not valid',
    fix: 'use lower-case letters, digits and "-" (an npm package name, e.g. my-app)',
  },
  TARGET_NOT_EMPTY: {
    status: 409,
    title: 'Target folder is not empty',
    fix: 'choose a new folder, or empty that one first',
  },
  PLUGIN_UNKNOWN: {
    status: 400,
    title: 'Plugin is not in the catalog',
    fix: 'choose among the listed plugins; a third-party plugin is added to gantry.config.json by hand',
  },
  PLUGIN_NEEDS_SETUP: {
    status: 400,
    title: 'Plugin needs settings only you can give',
    fix: 'create the app without it, then add it to gantry.config.json as its README says',
  },
  PROFILE_UNKNOWN: {
    status: 400,
    title: 'Profile is not known',
    fix: 'use --profile embedded (no service needed) or --profile compose (PostgreSQL, Redis, SMTP)',
  },
  INSTALL_FAILED: {
    status: 500,
    title: 'npm install failed',
    fix: "read npm's output above, correct the cause, then run npm install in the new folder",
  },
  CORE_TOO_OLD: {
    status: 500,
    title: "The app's @gantry/core is too old for this command",
    fix: 'upgrade @gantry/core in the app (npm install @gantry/core@latest)',
  },
});
