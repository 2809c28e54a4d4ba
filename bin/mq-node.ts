#!/usr/bin/env node
/**
 * `mq-node`: the one command. `mq-node --role namesrv|broker|standalone [flags]` runs a node
 * (contract.md, "Command line"). Exit codes: 0 done, 1 failure, 2 bad flags or config (one
 * line on stderr naming the flag), 128 + N killed by a second signal N during shutdown.
 *
 * Only the configuration is loaded statically: the logger reads MQ_LOG_LEVEL when it is
 * first imported, so the node's modules are imported after --log-level is applied to it.
 */
import { ConfigError, configToJson, loadConfig, type ConfigRequest } from '../src/server/config.js';
import { usageText } from '../src/server/config_usage.js';

const usage_exit_code = 2;

async function main(argv: readonly string[]): Promise<void> {
  const first = argv[0];
  if (first !== undefined && !first.startsWith('-')) {
    // Subcommands (admin, bench, inspect, chaos) are dispatched here.
    if (first === 'admin') {
      const { runAdminCommand } = await import('../src/client/admin_cli.js');
      process.exitCode = await runAdminCommand(argv.slice(1));
      return;
    }
    if (first === 'inspect') {
      const { runInspectCommand } = await import('../src/client/inspect_cli.js');
      process.exitCode = await runInspectCommand(argv.slice(1));
      return;
    }
    if (first === 'bench') {
      const { runBenchCommand } = await import('../src/client/bench/bench_command.js');
      process.exitCode = await runBenchCommand(argv.slice(1));
      return;
    }
    if (first === 'chaos') {
      const { runChaosCommand } = await import('../src/chaos/chaos_command.js');
      process.exitCode = await runChaosCommand(argv.slice(1));
      return;
    }
    failUsage(`unknown command ${JSON.stringify(first)}; start a node with mq-node --role namesrv|broker|standalone (see mq-node --help)`);
  }
  let request: ConfigRequest;
  try {
    request = loadConfig(argv);
  } catch (error) {
    if (error instanceof ConfigError) failUsage(error.message);
    throw error;
  }
  switch (request.action) {
    case 'help':
      process.stdout.write(usageText(request.role));
      return;
    case 'print-config':
      process.stdout.write(`${JSON.stringify(configToJson(request.config), null, 2)}\n`);
      return;
    case 'run': {
      process.env['MQ_LOG_LEVEL'] = request.config.logLevel;
      const { runRoleProcess } = await import('../src/server/role_process.js');
      await runRoleProcess(request.config);
      return;
    }
  }
}

function failUsage(message: string): never {
  process.stderr.write(`mq-node: ${message}\n`);
  process.exit(usage_exit_code);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`mq-node: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
