import { isIP } from 'node:net';
import { resolve as resolve_path } from 'node:path';

/**
 * Value types of the command-line flags. Every source (flag, environment variable, config
 * file) arrives as a string and goes through the same parser, so a value means the same
 * thing wherever it was written. A parser throws InvalidValue; the caller adds the flag
 * name and the source to make the one-line ConfigError the user sees.
 */

/** Thrown by a parser; `reason` is an optional detail added to the message. */
export class InvalidValue extends Error {
  constructor(readonly reason: string | null = null) {
    super(reason ?? 'invalid value');
    this.name = 'InvalidValue';
  }
}

export interface ValueType<T> {
  /** What is allowed, in words, e.g. `an integer 0..65535 (0 picks a free port)`. */
  readonly allowed: string;
  /** A flag of this type takes no value (`--print-config`); only the command line sets it. */
  readonly is_switch?: boolean;
  parse(raw: string): T;
}

export interface HostPort {
  host: string;
  port: number;
}

export const config_value_limits = {
  port_max: 65_535,
  /** Entries in one host:port list (`--namesrv`, `--peers`): far more than any cluster needs. */
  host_port_entries_max: 64,
  /** A DNS name is at most 253 characters (RFC 1035). */
  host_chars_max: 253,
  /** Cluster and broker names; the same bound as topic names. */
  name_chars_max: 127,
  path_chars_max: 4_096,
} as const;

const decimal_integer = /^(0|-?[1-9][0-9]*)$/;

export function integerType(min: number, max: number, allowed?: string): ValueType<number> {
  return {
    allowed: allowed ?? `an integer ${min}..${max}`,
    parse(raw) {
      if (!decimal_integer.test(raw)) throw new InvalidValue();
      const value = Number(raw);
      if (!Number.isSafeInteger(value) || value < min || value > max) throw new InvalidValue();
      return value;
    },
  };
}

/** An integer min..max that is a multiple of `alignment` (sizes of mapped files: whole pages). */
export function alignedIntegerType(min: number, max: number, alignment: number): ValueType<number> {
  const integer = integerType(min, max);
  return {
    allowed: `an integer ${min}..${max}, a multiple of ${alignment}`,
    parse(raw) {
      const value = integer.parse(raw);
      if (value % alignment !== 0) throw new InvalidValue(`not a multiple of ${alignment}`);
      return value;
    },
  };
}

export const portType = integerType(0, config_value_limits.port_max, 'an integer 0..65535 (0 picks a free port)');

export function enumType<const V extends string>(values: readonly V[]): ValueType<V> {
  return {
    allowed: `one of ${values.join('|')}`,
    parse(raw) {
      const found = values.find((v) => v === raw);
      if (found === undefined) throw new InvalidValue();
      return found;
    },
  };
}

export const booleanType: ValueType<boolean> = {
  allowed: 'true|false',
  parse(raw) {
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    throw new InvalidValue();
  },
};

/** A flag without a value; the parser only sees `true` from the command line. */
export const switchType: ValueType<boolean> = { ...booleanType, allowed: 'no value', is_switch: true };

const dns_label = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const dns_name = new RegExp(`^${dns_label}(?:\\.${dns_label})*$`);

export function isValidHost(host: string): boolean {
  if (host.length === 0 || host.length > config_value_limits.host_chars_max) return false;
  return isIP(host) !== 0 || dns_name.test(host);
}

export const hostType: ValueType<string> = {
  allowed: 'an IPv4 or IPv6 address or a DNS name',
  parse(raw) {
    if (!isValidHost(raw)) throw new InvalidValue();
    return raw;
  },
};

/** Listen addresses that mean "every interface": not an address another node can dial. */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '::0' || host === '0:0:0:0:0:0:0:0';
}

/** `host:port`, with IPv6 literals in brackets as URLs write them: `[::1]:9876`. */
export function formatHostPort(address: HostPort): string {
  return isIP(address.host) === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** `host:port` or `[v6]:port` (formatHostPort's inverse); InvalidValue when it is neither. */
export function parseHostPort(entry: string): HostPort {
  const bracketed = /^\[([^\]]+)\]:([0-9]+)$/.exec(entry);
  const plain = /^([^:[\]]+):([0-9]+)$/.exec(entry);
  const match = bracketed ?? plain;
  if (match === null) throw new InvalidValue(`"${entry}" is not host:port`);
  const host = match[1] ?? '';
  if (bracketed !== null && isIP(host) !== 6) throw new InvalidValue(`"${host}" in brackets is not an IPv6 address`);
  if (!isValidHost(host)) throw new InvalidValue(`"${host}" is not a valid host`);
  const port = Number(match[2]);
  // Port 0 only makes sense for a listener; an address to dial needs a real port.
  if (!Number.isSafeInteger(port) || port < 1 || port > config_value_limits.port_max) {
    throw new InvalidValue(`port ${match[2] ?? ''} is not in 1..65535`);
  }
  return { host, port };
}

/** A comma-separated list of host:port; `entries_min` 0 lets an empty string mean "none". */
export function hostPortListType(entries_min: number): ValueType<HostPort[]> {
  const max = config_value_limits.host_port_entries_max;
  return {
    allowed: `a comma-separated list of host:port (${entries_min}..${max} entries, port 1..65535)`,
    parse(raw) {
      const trimmed = raw.trim();
      const entries = trimmed === '' ? [] : trimmed.split(',').map((entry) => entry.trim());
      if (entries.length < entries_min || entries.length > max) throw new InvalidValue(`${entries.length} entries`);
      return entries.map((entry) => {
        if (entry === '') throw new InvalidValue('an empty entry');
        return parseHostPort(entry);
      });
    },
  };
}

const name_pattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export const nameType: ValueType<string> = {
  allowed: `1..${config_value_limits.name_chars_max} characters of A-Z a-z 0-9 _ . - (not starting with . or -)`,
  parse(raw) {
    if (raw.length > config_value_limits.name_chars_max || !name_pattern.test(raw)) throw new InvalidValue();
    return raw;
  },
};

/**
 * A directory path, made absolute against the working directory so that logs and
 * `--print-config` show where data really goes (a relative path in a config file is
 * relative to the working directory too, not to the file).
 */
export const pathType: ValueType<string> = {
  allowed: `a directory path (1..${config_value_limits.path_chars_max} characters)`,
  parse(raw) {
    if (raw.length === 0 || raw.length > config_value_limits.path_chars_max || raw.includes('\0')) {
      throw new InvalidValue();
    }
    return resolve_path(raw);
  },
};

/**
 * One directory path or several, comma-separated (a broker's CommitLog spread over disks):
 * each resolved, kept as one comma-separated string so that --print-config round-trips it.
 * A path with a comma in it cannot be given.
 */
export const pathListType: ValueType<string> = {
  allowed: `directory paths, comma-separated (each 1..${config_value_limits.path_chars_max} characters, no two the same)`,
  parse(raw) {
    const paths = raw.split(',').map((entry) => pathType.parse(entry.trim()));
    if (new Set(paths).size !== paths.length) throw new InvalidValue('a directory given twice');
    return paths.join(',');
  },
};

const duration_units_ms: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const duration_pattern = /^(\d+)(ms|s|m|h|d)?$/;

/** `250ms`, `10s`, `1m`, `2h`, `3d` or plain milliseconds, as ms. */
function parseDurationMs(text: string): number | undefined {
  const match = duration_pattern.exec(text);
  if (match === null) return undefined;
  const value = Number(match[1]) * (duration_units_ms[match[2] ?? 'ms'] as number);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** A comma-separated list of durations (`10s,30s,1m`), each in [min_ms, max_ms], as ms. */
export function durationListType(entries_min: number, entries_max: number, min_ms: number, max_ms: number): ValueType<number[]> {
  return {
    allowed: `${entries_min}..${entries_max} comma-separated durations such as 250ms, 10s, 1m, 2h (or plain ms), each ${min_ms} ms..${max_ms} ms`,
    parse(raw) {
      const entries = raw.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
      if (entries.length < entries_min || entries.length > entries_max) throw new InvalidValue(`${entries.length} entries`);
      return entries.map((entry) => {
        const ms = parseDurationMs(entry);
        if (ms === undefined || ms < min_ms || ms > max_ms) throw new InvalidValue(`"${entry}"`);
        return ms;
      });
    },
  };
}

/** A comma-separated list of integers, each in [min, max]. */
export function integerListType(entries_min: number, entries_max: number, min: number, max: number): ValueType<number[]> {
  return {
    allowed: `${entries_min}..${entries_max} comma-separated integers, each ${min}..${max}`,
    parse(raw) {
      const entries = raw.split(',').map((entry) => entry.trim());
      if (entries.length < entries_min || entries.length > entries_max) throw new InvalidValue(`${entries.length} entries`);
      return entries.map((entry) => {
        if (!/^\d+$/.test(entry) || Number(entry) < min || Number(entry) > max) throw new InvalidValue(`"${entry}"`);
        return Number(entry);
      });
    },
  };
}
