import { readdirSync, statSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { QueuePositions } from '../../storage/queue_positions.js';
import { store_control } from '../../storage/store_control.js';
import { commitLogDirs, parseSegmentFileName } from '../../storage/storage_paths.js';
import { ha_roles } from '../replicator/replicator_messages.js';
import type { StoreArgs } from './store_args.js';

/** Queues listed in one view; a broker with more says how many it left out. */
export const store_view_queues_max = 10_000;
/** Segments listed in one view (the newest); at 1 GiB each, far more than a disk holds. */
export const store_view_segments_max = 10_000;

/**
 * What the inspector shows of a broker's store (`GET /api/store`), read without asking any
 * actor: positions from the SharedArrayBuffer control block (each slot has one writer, read
 * here with Atomics), ConsumeQueue windows from the queue-position table, segment files from
 * the data directories, free space from statfs. A moment's view: values written while it is
 * read may be from a little before or after.
 */
export interface StoreView {
  role: 'master' | 'slave';
  commitLog: {
    /** The oldest byte kept, the end of the last whole record, what is on disk. */
    minOffset: number;
    writeOffset: number;
    flushOffset: number;
    /** On a master with sync replication: what enough in-sync slaves hold. */
    replicatedOffset: number;
    replicasInSync: number;
    segmentBytes: number;
    segments: Array<{ file: string; startOffset: number; sizeBytes: number; writtenBytes: number; flushedBytes: number }>;
  };
  queues: Array<{ topic: string; queueId: number; minOffset: number; maxOffset: number }>;
  queuesLeftOut: number;
  disks: Array<{ dir: string; totalBytes: number; freeBytes: number }>;
}

export function storeView(args: StoreArgs): StoreView {
  const control = store_control.attach(args.control);
  const write_offset = control.load('write_offset');
  const flush_offset = control.load('flush_offset');
  const dirs = commitLogDirs({ data_dir: args.data_dir, extra_data_dirs: args.extra_data_dirs });
  const segments = dirs
    .flatMap((dir) => readdirSync(dir).map((name) => ({ dir, name, start: parseSegmentFileName(name) })))
    .filter((entry): entry is { dir: string; name: string; start: number } => entry.start !== undefined)
    .sort((a, b) => a.start - b.start)
    .slice(-store_view_segments_max)
    .flatMap(({ dir, name, start }) => {
      const file = path.join(dir, name);
      // Retention may delete a segment between the listing and this: it is simply gone.
      const size = statSync(file, { throwIfNoEntry: false })?.size;
      if (size === undefined) return [];
      const within = (offset: number): number => Math.min(size, Math.max(0, offset - start));
      return [{ file, startOffset: start, sizeBytes: size, writtenBytes: within(write_offset), flushedBytes: within(flush_offset) }];
    });
  const queues = new QueuePositions(args.queue_positions)
    .list()
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.queue_id - b.queue_id)
    .map((queue) => ({ topic: queue.topic, queueId: queue.queue_id, minOffset: queue.min_offset, maxOffset: queue.max_offset }));
  const disk_dirs = [args.data_dir, ...args.extra_data_dirs];
  return {
    role: control.load('ha_role') === ha_roles.slave ? 'slave' : 'master',
    commitLog: {
      minOffset: control.load('min_offset'),
      writeOffset: write_offset,
      flushOffset: flush_offset,
      replicatedOffset: control.load('replicated_offset'),
      replicasInSync: control.load('replicas_in_sync'),
      segmentBytes: args.commit_log_segment_bytes,
      segments,
    },
    queues: queues.slice(0, store_view_queues_max),
    queuesLeftOut: Math.max(0, queues.length - store_view_queues_max),
    disks: disk_dirs.map((dir) => {
      const stats = statfsSync(dir);
      return { dir, totalBytes: stats.blocks * stats.bsize, freeBytes: stats.bavail * stats.bsize };
    }),
  };
}
