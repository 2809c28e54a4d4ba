/**
 * `mq-node bench produce|consume|e2e`: a load generator over the SDK. Progress goes to
 * stderr while it runs; the result goes to stdout as text or, with `--json`, as one JSON
 * object. Exit codes: 0 done, 1 not done (time bound, failed sends, cluster unreachable:
 * the report or one line on stderr says which), 2 bad flags (one line on stderr).
 */
import { MqError } from '../../runtime/errors.js';
import { BenchUsageError, bench_usage, parseBenchArgs, type BenchRequest } from './bench_options.js';
import { system_bench_clock, type BenchClock } from './bench_payload.js';
import { formatJson, formatText, type BenchReport } from './bench_report.js';
import { runConsume, runE2e, runProduce, type RunEnv, type RunResult } from './bench_runs.js';

const usage_exit_code = 2;
const failure_exit_code = 1;

export interface BenchCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Progress is redrawn in place on a terminal, written as plain lines otherwise. */
  stderr_is_tty: boolean;
  env: NodeJS.ProcessEnv;
  clock: BenchClock;
  /** Distinguishes this process's SDK instances from other bench processes' on one host. */
  instance_prefix: string;
}

const default_io: BenchCommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stderr_is_tty: process.stderr.isTTY === true,
  env: process.env,
  clock: system_bench_clock,
  instance_prefix: `bench-${process.pid}`,
};

/** Runs `mq-node bench` with `argv` (the words after `bench`); resolves with the exit code. */
export async function runBenchCommand(argv: readonly string[], io: BenchCommandIo = default_io): Promise<number> {
  let request: BenchRequest;
  try {
    request = parseBenchArgs(argv, io.env);
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    io.stderr(`mq-node bench: ${error.message}\n`);
    return usage_exit_code;
  }
  if (request.command === 'help') {
    io.stdout(bench_usage);
    return 0;
  }
  const env: RunEnv = {
    clock: io.clock,
    progress: { write: io.stderr, is_tty: io.stderr_is_tty },
    progress_enabled: !request.quiet,
    instance_prefix: io.instance_prefix,
    random: Math.random,
  };
  let result: RunResult<BenchReport>;
  try {
    switch (request.command) {
      case 'produce':
        result = await runProduce(request.options, env);
        break;
      case 'consume':
        result = await runConsume(request.options, env);
        break;
      case 'e2e':
        result = await runE2e(request.options, env);
        break;
    }
  } catch (error) {
    if (!(error instanceof MqError)) throw error;
    // BAD_REQUEST here is a value the SDK refused (a topic or group name): a usage error.
    io.stderr(`mq-node bench: ${error.code}: ${error.message}\n`);
    return error.code === 'BAD_REQUEST' ? usage_exit_code : failure_exit_code;
  }
  io.stdout(request.json ? formatJson(result.report) : formatText(result.report));
  if (result.first_error !== undefined) io.stderr(`mq-node bench: sends failed; the first: ${result.first_error}\n`);
  return result.complete ? 0 : failure_exit_code;
}
