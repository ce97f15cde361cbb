import { defineErrors } from '@gantry/core';

/** Error registry of the sandbox's own plugins. */
export const SandboxErrors = defineErrors('sandbox', {
  NOTE_NOT_FOUND: { status: 404, title: 'Note not found', fix: 'check the note id' },
  WAIT_ABORTED: { status: 504, title: 'Wait aborted by the request deadline' },
  DEV_IDP_PROFILE: {
    status: 500,
    title: 'Development OpenID provider outside the embedded profile',
    fix: 'disable "./dist/src/dev-idp/plugin.js" in this profile and configure real providers for the oauth plugin',
  },
  DEV_IDP_LISTEN: {
    status: 500,
    title: 'Development OpenID provider cannot listen',
    fix: 'free the port or set GANTRY_DEV_IDP__PORT (and the oauth issuer to match)',
  },
});
