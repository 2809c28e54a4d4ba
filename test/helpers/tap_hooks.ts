/**
 * Tap starts every test file under its own module hooks (`--import` of @tapjs/processinfo and
 * @tapjs/mock) and passes the processinfo hook to child processes in NODE_OPTIONS. Worker
 * threads inherit the hooks and load them again in every thread, and every child process
 * does: store_rebuild.test.js took 96 CPU-seconds under them and 35 without, and an mq-node
 * child twice the CPU to start. The actors do not need them: worker-thread code is invisible
 * to tap's coverage anyway, and with coverage off (`npm test`) the child processes' is not
 * collected either. So test actor systems start lean threads (actor_systems.ts), and test children start lean
 * when coverage is off (`npm run coverage` keeps the hook, which collects their coverage).
 */

/** A Node option (one argv element) that loads one of tap's module hooks. */
function isTapHook(option: string): boolean {
  return /^--(import|loader|experimental-loader)=.*[\\/]@tapjs[\\/]/.test(option);
}

/** This process's Node options without tap's hooks: for worker threads. */
export const lean_worker_exec_argv: readonly string[] = process.execArgv.filter((option) => !isTapHook(option));

/** Whether tap collects coverage in this run (and so needs its hook in child processes). */
function tapCollectsCoverage(): boolean {
  return process.env['TAP'] === '1' && process.env['TAP_DISABLE_COVERAGE'] !== '1';
}

/**
 * NODE_OPTIONS for a child process: tap's hooks left out unless tap collects coverage.
 * (Options are split at spaces: a hook path with a space in it is kept, which costs only time.)
 */
export function childNodeOptions(node_options: string | undefined): string | undefined {
  if (node_options === undefined || tapCollectsCoverage()) return node_options;
  return node_options.split(/\s+/).filter((option) => option !== '' && !isTapHook(option)).join(' ');
}
