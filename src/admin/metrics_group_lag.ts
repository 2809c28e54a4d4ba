import type { Store } from '../actors/store/store.js';
import { assert } from '../runtime/assert.js';
import { logger } from '../runtime/log.js';
import { OffsetStore, type OffsetEntry } from '../storage/offset_store.js';
import { QueuePositions } from '../storage/queue_positions.js';
import { offsetsPath } from '../storage/storage_paths.js';

/**
 * Consumer-group lag as `/metrics` shows it (`mq_group_lag_messages{group,topic,queue}`):
 * for every queue where a group committed an offset on this broker, the messages between
 * that offset and the queue's end. Computed at scrape time, on the main thread, from the
 * committed offsets and the ConsumeQueue windows; nothing is kept between scrapes.
 */

export const group_lag_limits = {
  /** Series one scrape shows. The rows past it (in group, topic, queue order) are summed
   *  into one series whose labels are all `_other_`, so the lags still add up to the total. */
  series_max: 5_000,
} as const;

/** The group, topic and queue labels of the series that sums the rows past `series_max`. */
export const other_lag_label = '_other_';

export interface GroupLag {
  group: string;
  topic: string;
  /** The queue id, or `_other_`. */
  queue: string;
  lag_messages: number;
}

/** The committed offsets, group by group (OffsetStore has this shape). */
export interface CommittedOffsets {
  /** Sorted. */
  groups(): string[];
  /** Sorted by topic, then queue id. */
  listGroup(group: string): OffsetEntry[];
}

/** Where a queue ends: the offset the next message stored in it gets. */
export interface QueueEnd {
  topic: string;
  queue_id: number;
  max_offset: number;
}

/**
 * Lag per (group, topic, queue): the queue's end minus the committed offset, never below 0
 * (a commit may run ahead of what a slave has copied). A committed queue this broker has
 * no window for (never written here) has no series. Pure.
 */
export function groupLagsOf(committed: CommittedOffsets, queue_ends: readonly QueueEnd[], series_max: number = group_lag_limits.series_max): GroupLag[] {
  assert(Number.isInteger(series_max) && series_max >= 0, `groupLagsOf: series_max ${series_max} must be a non-negative integer`);
  const end_of = new Map<string, number>();
  for (const queue of queue_ends) end_of.set(queueKey(queue.topic, queue.queue_id), queue.max_offset);
  const rows: GroupLag[] = [];
  let other_rows = 0;
  let other_lag = 0;
  for (const group of committed.groups()) {
    for (const entry of committed.listGroup(group)) {
      const max_offset = end_of.get(queueKey(entry.topic, entry.queue_id));
      if (max_offset === undefined) continue;
      const lag_messages = Math.max(0, max_offset - entry.offset);
      if (rows.length < series_max) {
        rows.push({ group, topic: entry.topic, queue: String(entry.queue_id), lag_messages });
      } else {
        other_rows++;
        other_lag += lag_messages;
      }
    }
  }
  if (other_rows > 0) rows.push({ group: other_lag_label, topic: other_lag_label, queue: other_lag_label, lag_messages: other_lag });
  return rows;
}

const log = logger('metrics');

/**
 * The lags of a broker's store. The committed offsets live in the offset store actor's
 * table, which it writes whole to its file (DurableFile: all or nothing). Asked to write
 * now, the file is the table as of this scrape, as GET_ALL_CONSUMER_OFFSET does; the actor
 * writes nothing when nothing changed. The queue ends come from the queue-position table in
 * shared memory, read without a message.
 */
export async function readGroupLags(store: Store): Promise<GroupLag[]> {
  await store.offsets.ask({ kind: 'persist' });
  const offsets = new OffsetStore({ path: offsetsPath(store.args.data_dir), log });
  offsets.load();
  return groupLagsOf(offsets, new QueuePositions(store.args.queue_positions).list());
}

function queueKey(topic: string, queue_id: number): string {
  return `${topic}\u0000${queue_id}`;
}
