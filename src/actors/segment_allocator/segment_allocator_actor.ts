import fs from 'node:fs';
import { defineActor, deferReply, type ActorContext } from '../../runtime/actor.js';
import { MappedFile, page_bytes } from '../../storage/mapped_file.js';
import { commitLogDirs } from '../../storage/storage_paths.js';
import { SegmentSet } from '../../storage/segment_set.js';
import path from 'node:path';
import type { StoreArgs } from '../store/store_args.js';
import { segment_allocator_protocol, type SegmentAllocatorMessage } from './segment_allocator_messages.js';

/** Bytes warmed per message: the thread turns to its other actors between chunks. */
const warm_chunk_bytes = 8 << 20;
const preparing_suffix = '.preparing';

interface Job {
  start_offset: number;
  /** Answers the asks for this segment once it is ready. */
  done: Array<(start_offset: number) => void>;
  temp_path: string;
  final_path: string;
  file: MappedFile;
  warmed_to: number;
}

/**
 * Prepares the next CommitLog segment ahead of the writer, on another thread: creates it
 * under a temporary name, sizes it, and touches every page (fresh pages cost ~330 MB/s to
 * fault in here, already-touched ones ~10× less), in chunks so its thread stays responsive.
 * Then links it to its real name — which fails harmlessly if the writer, not willing to
 * wait, created it itself — and answers the writer's ask (deferred: the allocator keeps
 * taking messages while it warms). A roll therefore maps a ready file.
 */
class SegmentAllocatorActor {
  private job: Job | undefined;
  private readonly queued: Array<{ start_offset: number; done: (start_offset: number) => void }> = [];
  private readonly self;
  /** Only for paths (segment n in directory n mod count): nothing is mapped through it. */
  private readonly layout: SegmentSet;

  constructor(
    private readonly context: ActorContext,
    private readonly args: StoreArgs,
  ) {
    this.layout = new SegmentSet(commitLogDirs(args), args.commit_log_segment_bytes, 'read-only');
    this.self = context.actorOf(context.address, segment_allocator_protocol);
  }

  start(): void {
    for (const dir of this.layout.dirs) {
      fs.mkdirSync(dir, { recursive: true });
      for (const name of fs.readdirSync(dir)) if (name.endsWith(preparing_suffix)) fs.rmSync(path.join(dir, name), { force: true });
    }
  }

  receive(message: SegmentAllocatorMessage): number {
    switch (message.kind) {
      case 'prepare': {
        const ready = new Promise<number>((resolve) => {
          if (this.job?.start_offset === message.start_offset) this.job.done.push(resolve);
          else this.queued.push({ start_offset: message.start_offset, done: resolve });
        });
        if (this.job === undefined) this.next();
        return deferReply(ready);
      }
      case 'continue':
        this.warmChunk();
        return 0;
    }
  }

  stop(): void {
    if (this.job !== undefined) this.job.file.destroy();
    this.job = undefined;
  }

  private next(): void {
    const request = this.queued.shift();
    if (request === undefined) return;
    const { start_offset } = request;
    const final_path = this.layout.pathOf(start_offset);
    if (fs.existsSync(final_path)) {
      request.done(start_offset);
      this.next();
      return;
    }
    const temp_path = final_path + preparing_suffix;
    fs.rmSync(temp_path, { force: true });
    const file = MappedFile.create(temp_path, start_offset, this.args.commit_log_segment_bytes);
    this.job = { start_offset, done: [request.done], temp_path, final_path, file, warmed_to: 0 };
    this.self.tell({ kind: 'continue' });
  }

  private warmChunk(): void {
    const job = this.job;
    if (job === undefined) return;
    const buffer = job.file.buffer;
    const end = Math.min(job.warmed_to + warm_chunk_bytes, job.file.size_bytes);
    for (let position = job.warmed_to; position < end; position += page_bytes) buffer[position] = 0;
    job.warmed_to = end;
    if (end < job.file.size_bytes) {
      this.self.tell({ kind: 'continue' });
      return;
    }
    job.file.close();
    try {
      fs.linkSync(job.temp_path, job.final_path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') this.context.log.error({ err: error, segment: job.final_path }, 'could not publish a prepared segment');
    }
    fs.rmSync(job.temp_path, { force: true });
    this.job = undefined;
    for (const done of job.done) done(job.start_offset);
    this.next();
  }
}

export const actor = defineActor<SegmentAllocatorMessage, number, StoreArgs>({
  name: 'segment_allocator',
  protocol: segment_allocator_protocol,
  create: (context, args) => new SegmentAllocatorActor(context, args),
});
