import { token } from '@gantry/core';
import type { {{Name}} } from './greeter.js';

/** Token of the {@link {{Name}}} service other plugins inject (listed in `requires`). */
export const {{Name}}Token = token<{{Name}}>('{{package}}.{{Name}}');
