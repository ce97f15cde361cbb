/** Where a command writes and what it reads from its surroundings; tests pass their own. */
export interface CliIo {
  /** Writes to standard output (text as is, newlines included). */
  readonly stdout: (text: string) => void;
  /** Writes to standard error. */
  readonly stderr: (text: string) => void;
  /** The environment commands see (config overrides, GANTRY_CONFIG, PATH for npm). */
  readonly env: NodeJS.ProcessEnv;
  /** The folder `--cwd` defaults to. */
  readonly cwd: string;
}

/** The real process: stdout, stderr, process.env and the current folder. */
export function processIo(): CliIo {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
  };
}

/** Writes lines to standard output. */
export function say(io: CliIo, ...lines: string[]): void {
  io.stdout(lines.map((l) => `${l}\n`).join(''));
}

/** Writes lines to standard error. */
export function warn(io: CliIo, ...lines: string[]): void {
  io.stderr(lines.map((l) => `${l}\n`).join(''));
}
