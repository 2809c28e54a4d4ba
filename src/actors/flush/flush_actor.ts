import fs from 'node:fs';
import { defineActor, deferReply, type ActorContext } from '../../runtime/actor.js';
import { StoreCheckpoint } from '../../storage/checkpoint.js';
import { store_control, type StoreControl } from '../../storage/store_control.js';
import { flush_latency_histogram } from '../../storage/shared_histogram.js';
import { checkpointPath, commitLogDirs } from '../../storage/storage_paths.js';
import { SegmentSet } from '../../storage/segment_set.js';
import { commit_log_address, commit_log_protocol } from '../commit_log/commit_log_messages.js';
import type { StoreArgs } from '../store/store_args.js';
import { flush_protocol, type FlushMessage } from './flush_messages.js';
import { DiskFaultProbe } from '../../storage/disk_fault_probe.js';

/** The checkpoint file is rewritten at most this often (and at stop): recovery scans from it. */
const checkpoint_interval_ms = 1_000;

/**
 * Makes the CommitLog durable, on its own thread so the writer never waits on the disk:
 * fdatasync of every segment between the flushed and the written offset, on libuv's thread
 * pool (this thread's event loop keeps turning too). Flushes coalesce: requests that arrive
 * while one runs are served by the next, which covers everything written by then — group
 * commit. Publishes the flush offset, tells the writer, and keeps the checkpoint.
 *
 * Owns: the flush offset slot, the checkpoint file, an fd per segment it flushes.
 *
 * Fault probe: a `disk_fault` file saying `slow <ms>` in the data directory delays every
 * flush round by that much (storage/disk_fault_probe.ts), a lagging disk for chaos runs.
 */
class FlushActor {
  private readonly control: StoreControl;
  /** Observes one flush's duration, seconds. */
  private readonly observeLatency: (seconds: number) => void;
  private readonly checkpoint: StoreCheckpoint;
  private readonly fds = new Map<number, number>();
  /** Only for segment paths (segment n in directory n mod count); nothing is mapped through it. */
  private layout: SegmentSet | undefined;
  private flushing: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private checkpoint_written_ms = 0;
  private readonly writer;
  /** A `disk_fault` file saying `slow <ms>` delays every flush (disk_fault_probe.ts). */
  private readonly disk_fault: DiskFaultProbe;

  constructor(
    private readonly context: ActorContext,
    private readonly args: StoreArgs,
  ) {
    this.control = store_control.attach(args.control);
    this.observeLatency = flush_latency_histogram.recorder(args.flush_latency);
    this.checkpoint = new StoreCheckpoint({ path: checkpointPath(args.data_dir), log: context.log });
    this.writer = context.actorOf(commit_log_address, commit_log_protocol);
    this.disk_fault = new DiskFaultProbe(args.data_dir);
  }

  start(): void {
    this.checkpoint.load();
    if (this.args.flush_mode === 'async') this.timer = setInterval(() => this.request(), this.args.flush_interval_ms);
  }

  receive(message: FlushMessage): number {
    switch (message.kind) {
      case 'flush':
        this.request();
        return this.control.load('flush_offset');
      case 'flush_now': {
        const target = this.control.load('write_offset');
        return deferReply(this.flushUntil(target));
      }
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flushUntil(this.control.load('write_offset'));
    this.writeCheckpoint(true);
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }

  inspect(): Record<string, unknown> {
    return { flush_offset: this.control.load('flush_offset'), write_offset: this.control.load('write_offset'), open_segments: this.fds.size };
  }

  /** Starts a flush, or marks that another is needed after the running one. */
  private request(): void {
    if (this.flushing !== undefined) {
      this.again = true;
      return;
    }
    this.flushing = this.flushOnce().catch((error: unknown) => {
      // Nothing may escape: an unhandled rejection would end this worker thread.
      this.context.log.error({ err: error }, 'flush round failed');
    }).finally(() => {
      this.flushing = undefined;
      if (this.again) {
        this.again = false;
        this.request();
      }
    });
  }

  private async flushUntil(target: number): Promise<number> {
    for (let rounds = 0; this.control.load('flush_offset') < target && rounds < 1_000; rounds++) {
      if (this.flushing === undefined) this.request();
      await this.flushing;
    }
    return this.control.load('flush_offset');
  }

  private async flushOnce(): Promise<void> {
    const from = this.control.load('flush_offset');
    const target = this.control.load('write_offset');
    if (target <= from) return;
    const segment_bytes = this.args.commit_log_segment_bytes;
    const started_ms = performance.now();
    const fault = this.disk_fault.current();
    if (fault.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, fault.delay_ms));
    try {
      for (let start = from - (from % segment_bytes); start < target; start += segment_bytes) {
        await fdatasync(this.fdOf(start));
      }
    } catch (error) {
      // Not published: the writer's sync waiters time out (FLUSH_DISK_TIMEOUT) rather than lie.
      this.context.log.error({ err: error, from, target }, 'CommitLog flush failed');
      return;
    }
    this.observeLatency((performance.now() - started_ms) / 1000);
    this.control.store('flush_offset', target);
    this.control.add('flush_seq', 1);
    this.control.notify('flush_seq');
    this.writer.tell({ kind: 'flushed', offset: target });
    this.closeBefore(target - (target % segment_bytes));
    this.writeCheckpoint(false);
  }

  private writeCheckpoint(force: boolean): void {
    const now_ms = Date.now();
    if (!force && now_ms - this.checkpoint_written_ms < checkpoint_interval_ms) return;
    this.checkpoint.update({ commit_log_flushed_offset: this.control.load('flush_offset'), last_flushed_store_timestamp_ms: now_ms });
    this.checkpoint.persist();
    this.checkpoint_written_ms = now_ms;
  }

  private fdOf(start: number): number {
    let fd = this.fds.get(start);
    if (fd === undefined) {
      this.layout ??= new SegmentSet(commitLogDirs(this.args), this.args.commit_log_segment_bytes, 'read-only');
      fd = fs.openSync(this.layout.pathOf(start), 'r');
      this.fds.set(start, fd);
    }
    return fd;
  }

  /** Segments wholly flushed are not flushed again: their fds can go. */
  private closeBefore(start: number): void {
    for (const [segment_start, fd] of this.fds) {
      if (segment_start >= start) continue;
      fs.closeSync(fd);
      this.fds.delete(segment_start);
    }
  }
}

function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())));
}

export const actor = defineActor<FlushMessage, number, StoreArgs>({
  name: 'flush',
  protocol: flush_protocol,
  create: (context, args) => new FlushActor(context, args),
});
