import { parseBenchArgs } from './lib/args.js';

/**
 * `npm run bench -- <name> [--json] [--duration-ms N]`: runs one bench module.
 * Each module exports `run({ json, duration_ms })`, prints a table (or one JSON object with
 * --json) and resolves when done. Exit codes: 0 done, 1 the bench failed, 2 bad arguments.
 */
const bench_modules: Readonly<Record<string, string>> = {
  runtime: './runtime_bench.js',
  protocol: './protocol_bench.js',
  store: './store_bench.js',
  wheel: './wheel_bench.js',
  tx: './tx_bench.js',
  failover: './failover_bench.js',
  namesrv: './namesrv_bench.js',
  keyindex: './key_index_bench.js',
  grpc: './grpc_bench.js',
};

interface BenchModule {
  run(options: { json: boolean; duration_ms?: number }): Promise<unknown>;
}

function usage(): string {
  return `usage: npm run bench -- <name> [--json] [--duration-ms N]; names: ${Object.keys(bench_modules).join(', ')}`;
}

async function main(): Promise<number> {
  const parsed = parseBenchArgs(process.argv.slice(2));
  if (!parsed.ok) {
    process.stderr.write(`bench: ${parsed.problem}\n${usage()}\n`);
    return 2;
  }
  const { name, json, duration_ms } = parsed.args;
  const module_path = bench_modules[name];
  if (module_path === undefined) {
    process.stderr.write(`bench: unknown bench '${name}'\n${usage()}\n`);
    return 2;
  }
  let bench: BenchModule;
  try {
    // A variable specifier: modules are resolved at run time, so one bench not built yet
    // does not stop the others from compiling.
    bench = (await import(new URL(module_path, import.meta.url).href)) as BenchModule;
  } catch (error) {
    process.stderr.write(`bench: cannot load bench '${name}' from ${module_path}: ${String(error)}\n`);
    return 2;
  }
  if (typeof bench.run !== 'function') {
    process.stderr.write(`bench: ${module_path} does not export run({ json })\n`);
    return 2;
  }
  await bench.run(duration_ms === undefined ? { json } : { json, duration_ms });
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
