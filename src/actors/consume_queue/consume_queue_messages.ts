import { avroCodec, defineProtocol } from '../../runtime/actor_protocol.js';

export type ConsumeQueueMessage =
  /** Entries for queue offsets first_queue_offset, +1, ... (n × 20 bytes, the entry layout). */
  | { kind: 'append'; first_queue_offset: number; entries: Buffer }
  | { kind: 'flush' }
  | { kind: 'status' };

export interface ConsumeQueueStatus {
  min_offset: number;
  max_offset: number;
  flushed_offset: number;
}

export const consume_queue_protocol = defineProtocol<ConsumeQueueMessage, ConsumeQueueStatus>(
  'store.consume_queue',
  {
    append: [
      { name: 'first_queue_offset', type: 'long' },
      { name: 'entries', type: 'bytes' },
    ],
    flush: [],
    status: [],
  },
  avroCodec<ConsumeQueueStatus>({
    type: 'record',
    name: 'ConsumeQueueStatus',
    fields: [
      { name: 'min_offset', type: 'long' },
      { name: 'max_offset', type: 'long' },
      { name: 'flushed_offset', type: 'long' },
    ],
  }),
);

export function consumeQueueAddress(topic: string, queue_id: number): string {
  return `store/cq/${topic}/${queue_id}`;
}

export const consume_queue_module_url = new URL('./consume_queue_actor.js', import.meta.url).href;

export interface ConsumeQueueArgs {
  topic: string;
  queue_id: number;
  /** Its slot in QueuePositions, claimed by the dispatch actor. */
  slot: number;
}
