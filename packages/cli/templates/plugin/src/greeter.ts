import type { {{Name}}Config } from './config.js';
import { {{Name}}Errors } from './errors.js';

/** What the plugin provides to others through {@link {{Name}}Token}. */
export interface {{Name}} {
  /** A greeting for `name`; throws GANTRY_{{NAME}}_NAME_INVALID (400) for an empty, overlong or control-character name. */
  greet(name: string): string;
  /** How many greetings this instance made (its readiness details show it). */
  readonly count: number;
}

// Control characters have no place in a greeting (C0, DEL, C1).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The {@link {{Name}}} of one kernel: state lives here, never in module scope, so two kernels share nothing. */
export class Greeter implements {{Name}} {
  count = 0;

  constructor(private readonly config: {{Name}}Config) {}

  greet(name: string): string {
    if (name.length === 0 || [...name].length > 100 || CONTROL.test(name)) {
      throw {{Name}}Errors.NAME_INVALID(`plugin "{{name}}": cannot greet ${JSON.stringify(name.slice(0, 20))}: a name has 1 to 100 printable characters`);
    }
    this.count++;
    return `${this.config.greeting}, ${name}!`;
  }
}
