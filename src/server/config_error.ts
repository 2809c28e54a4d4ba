/**
 * ConfigError: a flag, environment variable or config file that the node cannot start with.
 * Its message is ONE line that names the flag, where the value came from, the bad value and
 * what is allowed; `mq-node` prints it to stderr and exits 2. Scripts may match on `flag`.
 */

/** Where a setting was read from, in precedence order (a flag beats env beats the file). */
export type ConfigSource = 'flag' | 'env' | 'file';

export class ConfigError extends Error {
  constructor(
    message: string,
    /** The flag it is about, without dashes (`port`), or null when it is about no one flag. */
    readonly flag: string | null,
    readonly source: ConfigSource | null = null,
  ) {
    super(oneLine(message));
    this.name = 'ConfigError';
  }
}

/** Values are echoed quoted and cut short: a pasted megabyte or a newline must not flood stderr. */
const echoed_value_chars_max = 80;

export function quoteValue(raw: string): string {
  const cut = raw.length > echoed_value_chars_max ? `${raw.slice(0, echoed_value_chars_max)}...` : raw;
  return JSON.stringify(cut);
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

export function envName(flag: string): string {
  return `MQ_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** Where the value came from, as the user wrote it: `--port`, `MQ_PORT`, `"port" in FILE`. */
export function describeSource(flag: string, source: ConfigSource, file_key: string, file_path: string): string {
  switch (source) {
    case 'flag':
      return `--${flag}`;
    case 'env':
      return `--${flag} (from environment variable ${envName(flag)})`;
    case 'file':
      return `--${flag} (from key "${file_key}" in config file ${file_path})`;
  }
}
