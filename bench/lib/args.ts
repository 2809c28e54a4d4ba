/**
 * Command-line arguments of `npm run bench -- <name> [--json] [--duration-ms N]`.
 * Parsing never exits: it returns either options or one line saying what was wrong.
 */
export interface BenchArgs {
  name: string;
  json: boolean;
  /** Per-case measuring time; undefined means the bench's default. */
  duration_ms: number | undefined;
}

export type BenchArgsResult = { ok: true; args: BenchArgs } | { ok: false; problem: string };

/** The longest per-case time a user may ask for: every run stays bounded. */
export const duration_ms_max = 60_000;

export function parseBenchArgs(argv: readonly string[]): BenchArgsResult {
  let name: string | undefined;
  let json = false;
  let duration_ms: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') {
      json = true;
    } else if (arg === '--duration-ms') {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value < 1 || value > duration_ms_max) {
        return { ok: false, problem: `--duration-ms takes an integer from 1 to ${duration_ms_max}, got ${argv[i] ?? 'nothing'}` };
      }
      duration_ms = value;
    } else if (arg.startsWith('-')) {
      return { ok: false, problem: `unknown flag ${arg}; flags are --json and --duration-ms N` };
    } else if (name === undefined) {
      name = arg;
    } else {
      return { ok: false, problem: `one bench name at a time, got ${name} and ${arg}` };
    }
  }
  if (name === undefined) return { ok: false, problem: 'no bench name given' };
  return { ok: true, args: { name, json, duration_ms } };
}
