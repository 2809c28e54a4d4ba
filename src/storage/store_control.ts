import { defineControlBlock } from '../runtime/control_block.js';

/**
 * The CommitLog's positions, shared by every thread of the broker (readers learn from it how
 * far they may read, the dispatch actor how far to follow, the writer when a flush covers an
 * acknowledgement). Who writes each slot:
 */
export const store_control = defineControlBlock(
  'store',
  {
    /** CommitLog writer only: the end of the last whole record; bytes below it are readable. */
    write_offset: 'i64',
    /** Flush actor only: bytes below it are on disk (fdatasync returned). */
    flush_offset: 'i64',
    /** CommitLog writer only: the oldest byte kept (retention moves it up). */
    min_offset: 'i64',
    /** Timing wheel only: retention keeps every CommitLog byte at or after this offset (the
     *  oldest scheduled message not delivered yet). 0 until the wheel has started: nothing
     *  is deleted before it knows what it still needs. */
    retention_floor: 'i64',
    /** Transaction actor only: the same for half messages not decided yet. */
    transaction_floor: 'i64',
    /** Replicator only: no slave's stream has CommitLog bytes below this waiting to be sent
     *  (the HA_PUSH bodies are views of the mapped segments): the lowest acknowledged offset
     *  of the connected slaves, the largest safe integer without any. The writer gives back
     *  the disk blocks of deleted segments only below it (SegmentSet.releaseRetired). */
    ha_stream_floor: 'i64',
    /** Dispatch actor only: every record below it is in its ConsumeQueue (its tick publishes
     *  where the previous one ended: the queues on its thread took that batch first). The
     *  timing wheel's retention floor never passes it: a scheduled copy not dispatched yet is
     *  in no queue the wheel reads. */
    dispatched_offset: 'i64',
    /** Replicator only, on a master: the CommitLog end that enough in-sync slaves hold
     *  (`replication_acks` of them); sync replication acknowledges below it. */
    replicated_offset: 'i64',
    /** CommitLog writer only: bumped (and notified) after each appended batch. */
    write_seq: 'i32',
    /** Replicator only: 0 while this store is a master (takes appends), 1 while a slave
     *  (takes only its master's bytes). */
    ha_role: 'i32',
    /** Replicator only, on a master: slaves connected and within the in-sync gap. */
    replicas_in_sync: 'i32',
    /** Replicator only, on a slave: 1 once its link to the master it follows streamed (the
     *  handshake found its log a prefix of the master's; a later drop of the link keeps it),
     *  0 at start and from each follow() — a master stepping down, or a new master — until
     *  then. Under sync replication a slave serves consumers past the replicated end only
     *  while 1 (StoreReader). */
    ha_aligned: 'i32',
    /** Flush actor only: bumped (and notified) after each flush. */
    flush_seq: 'i32',
    /** Every ConsumeQueue actor, by Atomics.add only: bumped (and notified) after it publishes
     *  new entries. Held long-poll pulls wait on it. */
    dispatch_seq: 'i32',
    /** Every ConsumeQueue actor, by Atomics.add only: how many queues refuse entries because
     *  they and the CommitLog disagree (consume_queue_actor.ts). The node's health reports it. */
    queues_refusing: 'i32',
  } as const,
  { padding: 'cache_line' },
);

export type StoreControl = ReturnType<typeof store_control.create>;
