import { avroCodec, defineProtocol } from '../../runtime/actor_protocol.js';

/** One record of an append batch, as the writer needs it (record.ts RecordInput, flattened). */
export interface AppendRecord {
  topic: string;
  queue_id: number;
  body: Buffer;
  properties: Buffer;
  tag_hash: number;
  flags: number;
  sys_flags: number;
  born_timestamp: number;
  born_ipv4: number;
  born_port: number;
  reconsume_times: number;
  prepared_transaction_offset: number;
}

export type CommitLogMessage =
  /** A batch, appended as one write; the reply says where each record went. */
  | { kind: 'append'; records: AppendRecord[] }
  /** From the flush actor: bytes below `offset` are durable. */
  | { kind: 'flushed'; offset: number }
  | { kind: 'status' };

/** RocketMQ's PutMessageStatus, for the whole batch. */
export type AppendStatus = 'PUT_OK' | 'FLUSH_DISK_TIMEOUT';

export interface AppendedRecordReply {
  physical_offset: number;
  size: number;
  queue_offset: number;
  store_timestamp: number;
}

export interface CommitLogReply {
  status: AppendStatus;
  results: AppendedRecordReply[];
  write_offset: number;
}

const append_record_fields = [
  { name: 'topic', type: 'string' },
  { name: 'queue_id', type: 'int' },
  { name: 'body', type: 'bytes' },
  { name: 'properties', type: 'bytes' },
  { name: 'tag_hash', type: 'long' },
  { name: 'flags', type: 'int' },
  { name: 'sys_flags', type: 'int' },
  { name: 'born_timestamp', type: 'long' },
  { name: 'born_ipv4', type: 'long' },
  { name: 'born_port', type: 'int' },
  { name: 'reconsume_times', type: 'int' },
  { name: 'prepared_transaction_offset', type: 'long' },
];

export const commit_log_protocol = defineProtocol<CommitLogMessage, CommitLogReply>(
  'store.commit_log',
  {
    append: [{ name: 'records', type: { type: 'array', items: { type: 'record', name: 'AppendRecord', fields: append_record_fields } } }],
    flushed: [{ name: 'offset', type: 'long' }],
    status: [],
  },
  avroCodec<CommitLogReply>({
    type: 'record',
    name: 'CommitLogReply',
    fields: [
      { name: 'status', type: { type: 'enum', name: 'AppendStatus', symbols: ['PUT_OK', 'FLUSH_DISK_TIMEOUT'] } },
      {
        name: 'results',
        type: {
          type: 'array',
          items: {
            type: 'record',
            name: 'AppendedRecordReply',
            fields: [
              { name: 'physical_offset', type: 'long' },
              { name: 'size', type: 'int' },
              { name: 'queue_offset', type: 'long' },
              { name: 'store_timestamp', type: 'long' },
            ],
          },
        },
      },
      { name: 'write_offset', type: 'long' },
    ],
  }),
);

export const commit_log_address = 'store/commit_log';
export const commit_log_module_url = new URL('./commit_log_actor.js', import.meta.url).href;
