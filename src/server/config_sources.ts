import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, envName, quoteValue } from './config_error.js';
import { all_flag_specs, isKnownFlag, isSwitch } from './config_flags.js';

/**
 * The three places a setting can come from, each read into plain text keyed by flag name:
 * the command line, `MQ_<FLAG>` environment variables and a `--config` JSON file.
 * Nothing here knows about roles or value types; config.ts applies those.
 */

export const config_source_limits = {
  /** A config file is a few hundred bytes; a larger one is a mistake (a data file passed by accident). */
  config_file_bytes_max: 1 << 20,
  /** How far a misspelt flag may be from a real one for "did you mean" (edit distance). */
  suggestion_distance_max: 2,
} as const;

/** A value read from the command line: text, or `true` for a switch such as --print-config. */
export type ArgValue = string | true;

export function readArgv(argv: readonly string[]): Map<string, ArgValue> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const spec of all_flag_specs) options[spec.flag] = { type: spec.type.is_switch === true ? 'boolean' : 'string' };
  options['help'] = { type: 'boolean', short: 'h' };  // the one short alias: `mq-node -h`
  // Not strict: parseArgs' own errors are several lines and do not always name the flag,
  // so its tokens are checked here and each problem gets one line of its own.
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const values = new Map<string, ArgValue>();
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      throw new ConfigError(`unexpected argument ${quoteValue(token.value)}: write flags as --name value; see mq-node --help`, null, 'flag');
    }
    const flag = token.name;
    if (!isKnownFlag(flag)) throw unknownFlag(token.rawName, flag);
    if (values.has(flag)) throw new ConfigError(`--${flag} is given twice; give it once`, flag, 'flag');
    if (isSwitch(flag)) {
      if (token.value !== undefined) {
        throw new ConfigError(`--${flag} takes no value (got ${quoteValue(token.value)})`, flag, 'flag');
      }
      values.set(flag, true);
      continue;
    }
    // parseArgs takes the next argument as the value even when it is the next flag: in
    // `--port --host x`, "--host" is a forgotten value, not a port.
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) {
      throw new ConfigError(`--${flag} needs a value; write --${flag} VALUE or --${flag}=VALUE`, flag, 'flag');
    }
    values.set(flag, token.value);
  }
  return values;
}

function unknownFlag(raw_name: string, flag: string): ConfigError {
  const names = [...new Set(all_flag_specs.map((s) => s.flag))];
  let best: { name: string; distance: number } | null = null;
  for (const name of names) {
    const distance = editDistance(flag, name);
    if (best === null || distance < best.distance) best = { name, distance };
  }
  const hint = best !== null && best.distance <= config_source_limits.suggestion_distance_max ? ` (did you mean --${best.name}?)` : '';
  return new ConfigError(`${raw_name} is not a flag of mq-node${hint}; see mq-node --help`, flag, 'flag');
}

/** Levenshtein distance; flag names are short, so the quadratic table is tiny. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** `MQ_<FLAG>`; an empty variable counts as unset, as shells make unsetting awkward. */
export function readEnv(env: NodeJS.ProcessEnv, flag: string): string | undefined {
  const value = env[envName(flag)];
  return value === undefined || value === '' ? undefined : value;
}

/** One setting from the config file: its text and the key as written (for messages). */
export interface FileValue {
  raw: string;
  key: string;
}

/**
 * Reads `--config FILE.json`: one JSON object whose keys are flag names, in kebab-case
 * (`broker-name`) or camelCase (`brokerName`). Values are strings, numbers, booleans, or
 * arrays of strings for host:port lists; `null` leaves a setting unset.
 */
export function readConfigFile(path: string, source: 'flag' | 'env' = 'flag'): Map<string, FileValue> {
  const where = source === 'flag' ? `--config ${path}` : `--config ${path} (from environment variable ${envName('config')})`;
  let text: string;
  try {
    const size_bytes = statSync(path).size;
    if (size_bytes > config_source_limits.config_file_bytes_max) {
      throw new ConfigError(`${where}: the file is ${size_bytes} bytes, more than the ${config_source_limits.config_file_bytes_max} allowed for a config file`, 'config', source);
    }
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`${where}: cannot read the file (${reason})`, 'config', source);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`${where}: not valid JSON (${reason})`, 'config', source);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${where}: expected a JSON object of settings such as {"port": 10911}`, 'config', source);
  }
  const values = new Map<string, FileValue>();
  for (const [key, value] of Object.entries(parsed)) {
    const flag = key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
    if (!isKnownFlag(flag)) throw new ConfigError(`${where}: unknown key "${key}" (keys are flag names such as "broker-name" or "brokerName")`, null, 'file');
    const spec = all_flag_specs.find((s) => s.flag === flag);
    if (spec !== undefined && !spec.sources.includes('file')) {
      throw new ConfigError(`${where}: key "${key}" cannot be set in a config file; give --${flag} on the command line`, flag, 'file');
    }
    const earlier = values.get(flag);
    if (earlier !== undefined) throw new ConfigError(`${where}: keys "${earlier.key}" and "${key}" both set --${flag}; keep one`, flag, 'file');
    if (value === null) continue;
    values.set(flag, { raw: fileValueText(where, key, flag, value), key });
  }
  return values;
}

function fileValueText(where: string, key: string, flag: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((entry) => typeof entry === 'string')) return value.join(',');
  throw new ConfigError(`${where}: key "${key}" (--${flag}) has a ${Array.isArray(value) ? 'non-string array' : typeof value}; expected a string, number, boolean or array of strings`, flag, 'file');
}
