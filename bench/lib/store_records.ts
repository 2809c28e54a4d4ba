import { recordSize, type RecordInput } from '../../src/storage/record.js';
import { tagHash } from '../../src/storage/tag_hash.js';

/** The bench's message: a 1 KiB body on one topic, with a tag in its properties. */
export const body_bytes = 1024;
export const bench_topic = 'BenchTopic';
const bench_tag = 'bench';
/** Records spread over this many queues of the topic (the writer's queue-offset table). */
export const bench_queues = 4;

const body = Buffer.alloc(body_bytes);
for (let i = 0; i < body_bytes; i++) body[i] = (i * 31 + 7) & 0xff;
const properties = Buffer.from(`TAGS\u0001${bench_tag}\u0002`, 'latin1');
const born_timestamp = Date.UTC(2026, 0, 1);

/** Bytes one bench record takes in the CommitLog (header, body, topic, properties). */
export const log_record_bytes = recordSize(Buffer.byteLength(bench_topic, 'latin1'), body_bytes, properties.length);

/** A storage-level record (CommitLog.appendBatch). Every record shares one body buffer:
 *  the writer copies it into the segment, so sharing changes nothing it does. */
export function recordInput(index: number): RecordInput {
  return {
    topic: bench_topic,
    queue_id: index % bench_queues,
    body,
    properties,
    tag_hash: tagHash(bench_tag),
    flags: 0,
    sys_flags: 0,
    born_timestamp,
    born_host: { ipv4: 0x7f000001, port: 40_000 },
    reconsume_times: 0,
    prepared_transaction_offset: 0,
  };
}
