import { defineErrors } from '@gantry/core';

/** Error registry of the sandbox's own plugins. */
export const SandboxErrors = defineErrors('sandbox', {
  NOTE_NOT_FOUND: { status: 404, title: 'Note not found', fix: 'check the note id' },
  WAIT_ABORTED: { status: 504, title: 'Wait aborted by the request deadline' },
});
