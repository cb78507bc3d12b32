import { ConfigError } from '../config.js';

/** One command-line argument: `--name=value` splits into flag `--name` and an inline value; anything else is its own flag. */
export interface Arg {
  flag: string;
  raw: string;
  /** true for `--name=value` */
  inline: boolean;
  /** the option's value: the inline one or the next argument (consumed); a ConfigError when missing, empty or another `--option` */
  value(): string;
}

/** Walks argv for the backup/restore style of options (`--opt v`, `--opt=v`). */
export function scanArgs(argv: string[], visit: (arg: Arg) => void): void {
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i];
    const eq = raw.indexOf('=');
    const flag = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
    const inline = flag !== raw;
    visit({
      flag,
      raw,
      inline,
      value: () => {
        const value = inline ? raw.slice(eq + 1) : argv[++i];
        if (value === undefined || value === '' || (!inline && value.startsWith('--'))) throw new ConfigError(`option '${flag}' needs a value`);
        return value;
      },
    });
  }
}

/** For a command's argument-parsing catch: a ConfigError prints `lablog <command>: message` and the usage on stderr and gives exit code 2; anything else is rethrown. */
export function usageFailure(command: string, usage: string, err: unknown): number {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`lablog ${command}: ${err.message}\n\nusage:\n${usage}`);
  return 2;
}
