import fs from 'node:fs';
import path from 'node:path';
import { consume_queue_entry_bytes, entryCommitLogOffset, entrySize } from './consume_queue_entry.js';
import { SegmentSet } from './segment_set.js';
import { consumeQueueDir, consumeQueueRootDir, isSafePathComponent } from './storage_paths.js';

/** Where one ConsumeQueue ends, as its files say. */
export interface QueueTail {
  topic: string;
  queue_id: number;
  /** Next queue offset (0 for a queue with no entry). */
  max_offset: number;
  /** CommitLog offset just past the last entry's record (0 for a queue with no entry). */
  coverage_end: number;
}

/**
 * Reads the end of every ConsumeQueue under the data dir, through read-only mappings: safe
 * to call while the queues' actors write (an entry is read whole or not at all: the writer
 * is one thread and the entry being written has size 0 until its last field). Used at start
 * by the CommitLog writer (next queue offsets) and the dispatch actor (where to resume).
 */
export function readQueueTails(data_dir: string, entries_per_segment: number): QueueTail[] {
  const root = consumeQueueRootDir(data_dir);
  if (!fs.existsSync(root)) return [];
  const tails: QueueTail[] = [];
  for (const topic of fs.readdirSync(root)) {
    if (!isSafePathComponent(topic)) continue;
    for (const queue_name of fs.readdirSync(path.join(root, topic))) {
      const queue_id = Number(queue_name);
      if (!/^\d{1,9}$/.test(queue_name)) continue;
      tails.push({ topic, queue_id, ...tailOf(consumeQueueDir(data_dir, topic, queue_id), entries_per_segment) });
    }
  }
  return tails;
}

function tailOf(dir: string, entries_per_segment: number): { max_offset: number; coverage_end: number } {
  const segments = new SegmentSet(dir, entries_per_segment * consume_queue_entry_bytes, 'read-only').load();
  try {
    // The last entry is in the last segment, or in the one before when the last was just
    // opened; scan back from the end (entries before a fresh queue's first are zero too).
    for (let segment = segments.last; segment !== undefined; segment = segments.find(segment.start_offset - 1)) {
      const buffer = segment.buffer;
      for (let position = segment.size_bytes - consume_queue_entry_bytes; position >= 0; position -= consume_queue_entry_bytes) {
        const size = entrySize(buffer, position);
        if (size === 0) continue;
        return {
          max_offset: (segment.start_offset + position) / consume_queue_entry_bytes + 1,
          coverage_end: entryCommitLogOffset(buffer, position) + size,
        };
      }
      if (segment.start_offset === 0) break;
    }
    return { max_offset: 0, coverage_end: 0 };
  } finally {
    segments.close();
  }
}
