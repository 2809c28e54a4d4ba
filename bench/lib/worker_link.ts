import type { Worker } from 'node:worker_threads';
import type { FromBenchWorker } from './runtime_bench_protocol.js';

export type Finished = Extract<FromBenchWorker, { kind: 'finished' }>;

/**
 * The main thread's end of a bench worker: collects acknowledgements, returned batch
 * buffers and the final count, and lets one sender wait (bounded) for the next of them.
 */
export class WorkerLink {
  /** Messages the worker has acknowledged (per_message and batched transports). */
  acked = 0;
  /** Batch buffers the worker gave back, ready for reuse. */
  readonly free_buffers: ArrayBuffer[] = [];
  finished: Finished | null = null;
  private failure: string | null = null;
  private waiter: (() => void) | null = null;

  constructor(readonly worker: Worker) {
    worker.on('message', (message: FromBenchWorker) => {
      switch (message.kind) {
        case 'ack':
          this.acked = message.messages;
          if (message.buffer !== null) this.free_buffers.push(message.buffer);
          break;
        case 'finished':
          this.finished = message;
          break;
        case 'failed':
          this.failure = message.problem;
          break;
      }
      this.wake();
    });
    worker.on('error', (error) => {
      this.failure = `worker error: ${String(error)}`;
      this.wake();
    });
    worker.on('exit', (code) => {
      this.failure ??= `worker exited with code ${code}`;
      this.wake();
    });
  }

  /** Resolves at the worker's next message; rejects when it failed or after timeout_ms. */
  changed(timeout_ms: number): Promise<void> {
    if (this.failure !== null) return Promise.reject(new Error(this.failure));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`bench worker silent for ${timeout_ms} ms`));
      }, timeout_ms);
      this.waiter = () => {
        clearTimeout(timer);
        if (this.failure !== null) reject(new Error(this.failure));
        else resolve();
      };
    });
  }

  /** The worker's final report, waiting for it at most timeout_ms. */
  async final(timeout_ms: number): Promise<Finished> {
    const deadline_ms = performance.now() + timeout_ms;
    while (this.finished === null) await this.changed(Math.max(1, deadline_ms - performance.now()));
    return this.finished;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }
}
