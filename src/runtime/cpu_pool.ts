import os from 'node:os';
import { Piscina } from 'piscina';
import type { CpuTask } from './cpu_tasks.js';

/**
 * A Piscina pool for stateless CPU work (CRC over large buffers, index rebuilds on recovery),
 * shared by everything on the main thread of the process. Its threads start on first use and
 * exit when idle, so a node that never recovers from a crash pays nothing for it.
 *
 * Data handed over: a Uint8Array over a SharedArrayBuffer is shared (no copy); any other
 * buffer is copied by structured clone unless `transfer` is set, which moves it (the caller
 * loses it).
 */
export class CpuPool {
  private pool: Piscina | undefined;

  constructor(
    private readonly threads_max = Math.max(1, os.availableParallelism()),
    /** Node options of the pool's threads; undefined: inherited from this process. */
    private readonly exec_argv?: readonly string[],
  ) {}

  async crc32(data: Uint8Array, options: { transfer?: boolean; initial?: number } = {}): Promise<number> {
    const task: CpuTask = { op: 'crc32', data, initial: options.initial ?? 0 };
    const transferList = options.transfer === true && data.buffer instanceof ArrayBuffer ? [data.buffer] : [];
    return (await this.piscina().run(task, { transferList })) as number;
  }

  /**
   * Runs a task from another module on the pool: `module` default-exports a function of the
   * task (the same contract as Piscina's filename option). Lets other layers ship their own
   * CPU tasks (e.g. index rebuilds) without this runtime knowing their words.
   */
  async run<T, R>(module: URL, task: T, transfer: ArrayBuffer[] = []): Promise<R> {
    return (await this.piscina().run(task, { filename: module.href, transferList: transfer })) as R;
  }

  async destroy(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.destroy();
  }

  private piscina(): Piscina {
    this.pool ??= new Piscina({
      filename: new URL('./cpu_tasks.js', import.meta.url).href,
      minThreads: 0,
      maxThreads: this.threads_max,
      idleTimeout: 5_000,
      ...(this.exec_argv === undefined ? {} : { execArgv: [...this.exec_argv] }),
    });
    return this.pool;
  }
}
