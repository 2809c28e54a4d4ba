import { avroCodec, defineProtocol } from '../../runtime/actor_protocol.js';

/** Where one appended record went. */
export interface AppendedRecordReply {
  physical_offset: number;
  size: number;
  queue_offset: number;
  store_timestamp: number;
}

/** What Store.append answers: the batch's status and where each record went. */
export interface AppendResult {
  status: AppendStatus;
  results: AppendedRecordReply[];
  write_offset: number;
}

export type CommitLogMessage =
  /** A batch of `count` record images (record.ts encodeRecordImages), appended as one write. */
  | { kind: 'append'; count: number; images: Buffer }
  /** From the flush actor: bytes below `offset` are durable. */
  | { kind: 'flushed'; offset: number }
  /** From the replicator, on a slave: the master's CommitLog bytes at `offset` (this log's end). */
  | { kind: 'append_replica'; offset: number; bytes: Buffer }
  /** From the replicator, on a master: enough slaves hold the bytes below `offset`. */
  | { kind: 'replicated'; offset: number }
  | { kind: 'status' };

/**
 * RocketMQ's PutMessageStatus, for the whole batch. The record is stored in every case;
 * the status says what is not certain yet: FLUSH_DISK_TIMEOUT, not on disk within the flush
 * timeout (sync flush); FLUSH_SLAVE_TIMEOUT, no slave acknowledged it within the
 * replication timeout, SLAVE_NOT_AVAILABLE, no slave was in sync (sync replication).
 */
export const append_statuses = ['PUT_OK', 'FLUSH_DISK_TIMEOUT', 'FLUSH_SLAVE_TIMEOUT', 'SLAVE_NOT_AVAILABLE'] as const;
export type AppendStatus = (typeof append_statuses)[number];

/**
 * The answer to an append, packed: per record, 16 bytes of `placements` —
 *
 *   +--------------------------------+--------------------------------+
 *   | physical offset (u64: 2 × u32) | queue offset (u64: 2 × u32)    |
 *   +--------------------------------+--------------------------------+
 *
 * one store timestamp for the batch; the sizes the caller knows.
 */
export interface CommitLogReply {
  status: AppendStatus;
  store_timestamp: number;
  write_offset: number;
  placements: Buffer;
}

export const placement_bytes = 16;

export const commit_log_protocol = defineProtocol<CommitLogMessage, CommitLogReply>(
  'store.commit_log',
  {
    append: [
      { name: 'count', type: 'int' },
      { name: 'images', type: 'bytes' },
    ],
    flushed: [{ name: 'offset', type: 'long' }],
    append_replica: [
      { name: 'offset', type: 'long' },
      { name: 'bytes', type: 'bytes' },
    ],
    replicated: [{ name: 'offset', type: 'long' }],
    status: [],
  },
  avroCodec<CommitLogReply>({
    type: 'record',
    name: 'CommitLogReply',
    fields: [
      { name: 'status', type: { type: 'enum', name: 'AppendStatus', symbols: [...append_statuses] } },
      { name: 'store_timestamp', type: 'long' },
      { name: 'write_offset', type: 'long' },
      { name: 'placements', type: 'bytes' },
    ],
  }),
);

export const commit_log_address = 'store/commit_log';
export const commit_log_module_url = new URL('./commit_log_actor.js', import.meta.url).href;
