import { avroCodec, defineProtocol } from '../../runtime/actor_protocol.js';

export type OffsetStoreMessage =
  /** Moves a group's committed offset forward (never back: use reset). */
  | { kind: 'commit'; group: string; topic: string; queue_id: number; offset: number }
  | { kind: 'reset'; group: string; topic: string; queue_id: number; offset: number }
  /** Answers the committed offset, -1 when the group has none for that queue. */
  | { kind: 'query'; group: string; topic: string; queue_id: number }
  /** Writes the table now (it is also written every interval and at stop). */
  | { kind: 'persist' };

const queue_fields = [
  { name: 'group', type: 'string' },
  { name: 'topic', type: 'string' },
  { name: 'queue_id', type: 'int' },
];

export const offset_store_protocol = defineProtocol<OffsetStoreMessage, number>(
  'store.offset_store',
  {
    commit: [...queue_fields, { name: 'offset', type: 'long' }],
    reset: [...queue_fields, { name: 'offset', type: 'long' }],
    query: queue_fields,
    persist: [],
  },
  avroCodec<number>('long'),
);

export const offset_store_address = 'store/offsets';
export const offset_store_module_url = new URL('./offset_store_actor.js', import.meta.url).href;
