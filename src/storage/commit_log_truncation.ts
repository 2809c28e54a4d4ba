import type { Logger } from '../runtime/log.js';
import { StoreCheckpoint } from './checkpoint.js';
import { zeroStaleTail } from './commit_log_recovery.js';
import { SegmentSet } from './segment_set.js';
import { checkpointPath, commitLogDirs } from './storage_paths.js';

/**
 * Cuts a stopped store's CommitLog at `offset` (a record boundary): a slave that was a master
 * under an older epoch drops what it wrote then and nobody acknowledged, before it follows
 * the new master (storage/epoch_history.ts says where). The bytes past the cut are zeroed
 * (zeroStaleTail: up to the first run of zeros, not the whole segment), later segments are
 * deleted, made durable, and the checkpoint is moved back so that the next open scans from
 * at or before the cut. The ConsumeQueues are cut by the next open, which never lets a queue
 * point past the log. The writer and every actor reading the log must be stopped.
 */
export function truncateCommitLog(options: { data_dir: string; extra_data_dirs: readonly string[]; segment_bytes: number; offset: number; log: Logger }): void {
  const { data_dir, segment_bytes, offset, log } = options;
  const segments = new SegmentSet(commitLogDirs(options), segment_bytes, 'read-write').load();
  try {
    const segment = segments.find(offset);
    if (segment !== undefined) {
      zeroStaleTail(segment.buffer, offset - segment.start_offset);
      segment.flush();
    }
    const removed = segments.removeAfter(offset);
    log.warn({ offset, segments_removed: removed }, 'CommitLog cut: bytes past this offset were never acknowledged under the current master epoch');
  } finally {
    segments.close();
  }
  const checkpoint = new StoreCheckpoint({ path: checkpointPath(data_dir), log });
  checkpoint.load();
  const state = checkpoint.state;
  if (state.commit_log_flushed_offset > offset || state.consume_queue_flushed_offset > offset) {
    checkpoint.update({ commit_log_flushed_offset: Math.min(state.commit_log_flushed_offset, offset), consume_queue_flushed_offset: Math.min(state.consume_queue_flushed_offset, offset) });
    checkpoint.persist();
  }
}
